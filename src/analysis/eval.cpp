#include "analysis/eval.hpp"

#include <ATen/ATen.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "modelgif/distance.hpp"
#include "modelgif/error.hpp"
#include "run/result_file.hpp"
#include "modelgif/stats.hpp"

namespace modelgif {
namespace {

std::vector<std::string> names_of(const YAML::Node& n, const std::string& key) {
  if (!n.IsSequence()) throw_usage("roles key '" + key + "': expected a list of model names");
  std::vector<std::string> v;
  for (const auto& e : n) v.push_back(e.as<std::string>());
  return v;
}

size_t index_of(const std::vector<std::string>& names, const std::string& name, const std::string& role) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw_input("roles: " + role + " model '" + name + "' is not in the result's zoo");
  return static_cast<size_t>(it - names.begin());
}

Spread spread_of(const std::vector<double>& v) {
  Spread s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  for (double x : v) s.mean += x / static_cast<double>(v.size());
  return s;
}

}  // namespace

Roles load_roles(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw_usage("roles " + path + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    throw_usage("roles " + path + ": YAML error at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  Roles r;
  if (!root.IsMap()) throw_usage("roles " + path + ": expected a mapping");
  for (const auto& section : root) {
    const std::string s = section.first.as<std::string>();
    const YAML::Node& body = section.second;
    if (!body.IsMap()) throw_usage("roles " + path + ": '" + s + "' must be a mapping");
    for (const auto& kv : body) {
      const std::string k = kv.first.as<std::string>(), key = s + "." + k;
      if (s == "fingerprinting" && k == "source") r.source = kv.second.as<std::string>();
      else if (s == "fingerprinting" && k == "negatives") r.negatives = names_of(kv.second, key);
      else if (s == "fingerprinting" && k == "positives") {
        if (!kv.second.IsMap()) throw_usage("roles key '" + key + "': expected kind: [models]");
        for (const auto& p : kv.second) r.positives[p.first.as<std::string>()] = names_of(p.second, key);
      } else if (s == "unlearning" && k == "reference") r.reference = kv.second.as<std::string>();
      else if (s == "unlearning" && k == "approximate") r.approximate = names_of(kv.second, key);
      else if (s == "unlearning" && k == "direct") r.direct = names_of(kv.second, key);
      else if (s == "unlearning" && k == "unrelated") r.unrelated = names_of(kv.second, key);
      else if (s == "relatedness" && k == "tasks") r.tasks = names_of(kv.second, key);
      else if (s == "relatedness" && k == "affinity") {
        for (const auto& row : kv.second) r.affinity.push_back(row.as<std::vector<double>>());
      } else {
        throw_usage("roles " + path + ": unknown key '" + key + "'");
      }
    }
    if (s != "fingerprinting" && s != "unlearning" && s != "relatedness")
      throw_usage("roles " + path + ": unknown section '" + s + "' (fingerprinting, unlearning, relatedness)");
  }
  for (const auto& row : r.affinity)
    if (row.size() != r.tasks.size())
      throw_usage("roles " + path + ": relatedness.affinity must be " + std::to_string(r.tasks.size()) + " x " +
                  std::to_string(r.tasks.size()));
  if (!r.tasks.empty() && r.affinity.size() != r.tasks.size())
    throw_usage("roles " + path + ": relatedness.affinity needs one row per task");
  return r;
}

namespace {

// Per-reference cosine distance (mean over steps) of each model to the source.
std::map<std::string, at::Tensor> per_reference_distances(const std::string& result, const Roles& roles) {
  if (roles.source.empty() || roles.positives.empty() || roles.negatives.empty())
    throw_usage("eval: fingerprinting needs source, positives and negatives in the roles");
  const RunResult r = read_result(result);
  index_of(r.names, roles.source, "source");
  const at::Tensor src = read_fields(result, roles.source);
  std::map<std::string, at::Tensor> per_ref;
  auto add = [&](const std::string& m) {
    index_of(r.names, m, "suspect");
    if (!per_ref.count(m)) per_ref[m] = cosine_distance_rows(src, read_fields(result, m)).mean(1);  // N
  };
  for (const auto& [kind, models] : roles.positives)
    for (const auto& m : models) add(m);
  for (const auto& m : roles.negatives) add(m);
  return per_ref;
}

// AUC per kind when each model's distance is the mean over the references `refs`.
std::map<std::string, double> auc_on(const std::map<std::string, at::Tensor>& per_ref,
                                     const std::map<std::string, std::vector<std::string>>& positives,
                                     const std::vector<std::string>& negatives, const at::Tensor& refs) {
  auto dist = [&](const std::string& m) { return per_ref.at(m).index_select(0, refs).mean().item<double>(); };
  std::vector<double> neg;
  for (const auto& m : negatives) neg.push_back(dist(m));
  std::map<std::string, double> auc;
  for (const auto& [kind, models] : positives) {
    std::vector<double> pos;
    for (const auto& m : models) pos.push_back(dist(m));
    if (!pos.empty()) auc[kind] = roc_auc(pos, neg);
  }
  return auc;
}

}  // namespace

std::vector<FingerprintRow> fingerprint_auc(const std::string& result, const Roles& roles,
                                            const std::vector<int64_t>& counts) {
  const auto per_ref = per_reference_distances(result, roles);
  const int64_t N = per_ref.begin()->second.size(0);
  std::vector<FingerprintRow> rows;
  for (const int64_t n : counts)
    if (n >= 1 && n <= N) rows.push_back({n, auc_on(per_ref, roles.positives, roles.negatives, at::arange(n))});
  return rows;
}

SelectionReport fingerprint_selection(const std::string& result, const Roles& roles,
                                      const std::vector<int64_t>& counts) {
  const auto per_ref = per_reference_distances(result, roles);
  const int64_t N = per_ref.begin()->second.size(0);
  SelectionReport rep;
  std::map<std::string, std::vector<std::string>> pos_sel, pos_eval;
  std::vector<std::string> neg_sel, neg_eval;
  auto halve = [&](const std::vector<std::string>& v, std::vector<std::string>& sel, std::vector<std::string>& ev) {
    for (size_t i = 0; i < v.size(); ++i) (i < v.size() / 2 ? sel : ev).push_back(v[i]);
  };
  for (const auto& [kind, models] : roles.positives) halve(models, pos_sel[kind], pos_eval[kind]);
  halve(roles.negatives, neg_sel, neg_eval);
  if (neg_sel.empty() || neg_eval.empty())
    throw_usage("eval: reference selection needs at least 2 negatives (half choose, half are evaluated)");
  for (const auto& [k, v] : pos_sel) rep.selection_models.insert(rep.selection_models.end(), v.begin(), v.end());
  rep.selection_models.insert(rep.selection_models.end(), neg_sel.begin(), neg_sel.end());
  for (const auto& [k, v] : pos_eval) rep.evaluation_models.insert(rep.evaluation_models.end(), v.begin(), v.end());
  rep.evaluation_models.insert(rep.evaluation_models.end(), neg_eval.begin(), neg_eval.end());
  // The rule, on the selection half only: margin = mean negative distance - mean positive distance.
  at::Tensor pos_mean = at::zeros({N}, at::kDouble), neg_mean = at::zeros({N}, at::kDouble);
  int64_t np = 0;
  for (const auto& [k, v] : pos_sel)
    for (const auto& m : v) pos_mean += per_ref.at(m), ++np;
  for (const auto& m : neg_sel) neg_mean += per_ref.at(m);
  if (np == 0) throw_usage("eval: reference selection needs at least 2 models of some positive kind");
  const at::Tensor margin = neg_mean / static_cast<double>(neg_sel.size()) - pos_mean / static_cast<double>(np);
  const at::Tensor order = std::get<1>(margin.sort(0, /*descending=*/true));
  for (const int64_t n : counts) {
    if (n < 1 || n > N) continue;
    rep.random.push_back({n, auc_on(per_ref, pos_eval, neg_eval, at::arange(n))});
    rep.selected.push_back({n, auc_on(per_ref, pos_eval, neg_eval, order.slice(0, 0, n))});
  }
  return rep;
}

UnlearningReport unlearning(const std::vector<std::string>& names, const std::vector<double>& m, const Roles& roles) {
  if (roles.reference.empty()) throw_usage("eval: unlearning needs a reference in the roles");
  const size_t M = names.size(), ref = index_of(names, roles.reference, "reference");
  auto d = [&](const std::string& x, const std::string& role) { return m[ref * M + index_of(names, x, role)]; };
  UnlearningReport rep;
  std::vector<double> a, di, u;
  for (const auto& x : roles.approximate) a.push_back(rep.distance[x] = d(x, "approximate"));
  for (const auto& x : roles.direct) di.push_back(rep.distance[x] = d(x, "direct"));
  for (const auto& x : roles.unrelated) u.push_back(d(x, "unrelated"));
  rep.approximate = spread_of(a), rep.direct = spread_of(di), rep.unrelated = spread_of(u);
  // Verdict: an unlearned model that stays nearer the reference than the nearest
  // unrelated model still carries the reference's function.
  const double bar = u.empty() ? std::nan("") : rep.unrelated.min;
  for (const auto& [x, dist] : rep.distance)
    rep.verdict[x] = std::isnan(bar) ? "no unrelated models to judge by"
                     : dist < bar    ? "still close to the reference: not forgotten"
                                     : "as far as an unrelated model: forgotten";
  return rep;
}

RelatednessReport relatedness(const std::vector<std::string>& names, const std::vector<double>& m,
                              const Roles& roles) {
  const size_t T = roles.tasks.size(), M = names.size();
  if (T < 3) throw_usage("eval: relatedness needs at least 3 tasks with their affinity matrix");
  std::vector<size_t> idx;
  for (const auto& t : roles.tasks) idx.push_back(index_of(names, t, "task"));
  RelatednessReport rep;
  for (size_t j = 0; j < T; ++j) {  // column j: every task's encoder for task j
    std::vector<double> dist, aff, dist_nd, aff_nd;
    for (size_t i = 0; i < T; ++i) {
      dist.push_back(m[idx[i] * M + idx[j]]);
      aff.push_back(roles.affinity[i][j]);
      if (i != j) dist_nd.push_back(dist.back()), aff_nd.push_back(aff.back());
    }
    rep.per_task[roles.tasks[j]] = spearman(dist, aff);
    rep.per_task_no_diagonal[roles.tasks[j]] = spearman(dist_nd, aff_nd);
    rep.mean += rep.per_task[roles.tasks[j]] / static_cast<double>(T);
    rep.mean_no_diagonal += rep.per_task_no_diagonal[roles.tasks[j]] / static_cast<double>(T);
  }
  return rep;
}

}  // namespace modelgif
