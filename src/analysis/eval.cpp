#include "analysis/eval.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "inputs/rows.hpp"
#include "inputs/strict_yaml.hpp"
#include "modelgif/distance.hpp"
#include "modelgif/error.hpp"
#include "modelgif/result.hpp"
#include "modelgif/stats.hpp"

namespace modelgif {
namespace {

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

// Roles that contradict themselves: a model twice in one list ...
void check_distinct(const yaml::Document& doc, const std::vector<std::string>& list, const std::string& key) {
  for (size_t i = 0; i < list.size(); ++i)
    if (std::find(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(i), list[i]) !=
        list.begin() + static_cast<std::ptrdiff_t>(i))
      doc.fail("key '" + key + "': model '" + list[i] + "' is listed twice");
}

// ... or a tested model that is also the model it is compared with, or one of
// the models it is judged against.
void check_apart(const yaml::Document& doc, const std::vector<std::string>& tested, const std::string& key,
                 const std::vector<std::string>& others, const std::string& what) {
  for (const auto& m : tested)
    if (std::find(others.begin(), others.end(), m) != others.end())
      doc.fail("key '" + key + "': model '" + m + "' is also " + what);
}

using Row = KeyRow<Roles>;
using Kind = KeyRule::Kind;

Row model_list(const std::string& key, const std::string& help, std::vector<std::string> Roles::*member) {
  return Row(key, Kind::StringList, "[]", help).sets([member](Roles& r, const KeyValue& v) { r.*member = v.items; });
}

Row one_model(const std::string& key, const std::string& help, std::string Roles::*member) {
  return Row(key, Kind::String, "", help).sets([member](Roles& r, const KeyValue& v) { r.*member = v.text; });
}

// The roles' keys; fingerprinting.positives (kind -> models) and
// relatedness.affinity (a matrix) are read whole.
const std::vector<Row>& roles_rows() {
  static const std::vector<Row> rows = {
      one_model("fingerprinting.source", "the model the others are compared with", &Roles::source),
      model_list("fingerprinting.negatives", "models independent of the source", &Roles::negatives),
      model_list("fingerprinting.suspects", "models tested against the negatives", &Roles::suspects),
      one_model("unlearning.reference", "the model trained on everything", &Roles::reference),
      model_list("unlearning.approximate", "models unlearned approximately", &Roles::approximate),
      model_list("unlearning.direct", "models retrained without the forgotten data", &Roles::direct),
      model_list("unlearning.unrelated", "models unrelated to the reference", &Roles::unrelated),
      model_list("unlearning.candidates", "models tested against the unrelated ones", &Roles::candidates),
      model_list("relatedness.tasks", "one model per task", &Roles::tasks),
  };
  return rows;
}

// Checks across the fingerprinting keys, and its positives.
void check_fingerprinting(const yaml::Document& doc, Roles& r, const YAML::Node* positives) {
  check_distinct(doc, r.negatives, "fingerprinting.negatives");
  check_distinct(doc, r.suspects, "fingerprinting.suspects");
  check_apart(doc, r.suspects, "fingerprinting.suspects", {r.source}, "the source (fingerprinting.source)");
  check_apart(doc, r.suspects, "fingerprinting.suspects", r.negatives,
              "a negative (fingerprinting.negatives), against which it would be judged");
  if (!r.suspects.empty() && r.negatives.size() < 2)
    doc.fail(
        "key 'fingerprinting.negatives': testing suspects needs at least 2 negatives (10-20 for a verdict at 0.01)");
  if (positives) {
    const YAML::Node& p = *positives;
    if (!p.IsMap()) doc.fail("key 'fingerprinting.positives': expected kind: [models], got " + yaml::describe(p));
    for (const auto& kv : p) {
      const std::string key = "fingerprinting.positives." + kv.first.Scalar();
      check_distinct(doc, r.positives[kv.first.Scalar()] = doc.strings(kv.second, key), key);
    }
  }
}

void check_unlearning(const yaml::Document& doc, const Roles& r) {
  for (const auto& [list, key] : {std::pair{&r.approximate, "unlearning.approximate"},
                                  {&r.direct, "unlearning.direct"},
                                  {&r.unrelated, "unlearning.unrelated"},
                                  {&r.candidates, "unlearning.candidates"}})
    check_distinct(doc, *list, key);
  check_apart(doc, r.candidates, "unlearning.candidates", {r.reference}, "the reference (unlearning.reference)");
  check_apart(doc, r.candidates, "unlearning.candidates", r.unrelated,
              "an unrelated model (unlearning.unrelated), against which it would be judged");
  if (!r.candidates.empty() && r.unrelated.size() < 2)
    doc.fail("key 'unlearning.unrelated': testing candidates needs at least 2 unrelated models");
}

// The tasks, and their affinity: a finite T x T matrix.
void check_relatedness(const yaml::Document& doc, Roles& r, const YAML::Node* affinity) {
  check_distinct(doc, r.tasks, "relatedness.tasks");
  if (affinity) {
    const YAML::Node& a = *affinity;
    if (!a.IsSequence()) doc.fail("key 'relatedness.affinity': expected a list of rows, got " + yaml::describe(a));
    for (const auto& row : a) {
      r.affinity.push_back(doc.numbers(row, "relatedness.affinity"));
      for (const double v : r.affinity.back())
        if (!std::isfinite(v)) doc.fail("key 'relatedness.affinity': every value must be a finite number");
    }
  }
  const std::string n = std::to_string(r.tasks.size());
  for (const auto& row : r.affinity)
    if (row.size() != r.tasks.size()) doc.fail("relatedness.affinity must be " + n + " x " + n);
  if (!r.tasks.empty() && r.affinity.size() != r.tasks.size()) doc.fail("relatedness.affinity needs one row per task");
}

}  // namespace

Roles load_roles(const std::string& path) {
  const yaml::Document doc = yaml::Document::load(path, "roles");
  Roles r;
  const rows::Loaded loaded =
      rows::load_rows(doc, doc.root(), roles_rows(), r, {"fingerprinting.positives", "relatedness.affinity"});
  check_fingerprinting(doc, r, loaded.part("fingerprinting.positives"));
  check_unlearning(doc, r);
  check_relatedness(doc, r, loaded.part("relatedness.affinity"));
  return r;
}

std::vector<std::string> role_models(const Roles& r) {
  std::vector<std::string> all;
  const auto add = [&](const std::vector<std::string>& v) {
    for (const auto& m : v)
      if (std::find(all.begin(), all.end(), m) == all.end()) all.push_back(m);
  };
  if (!r.source.empty()) add({r.source});
  for (const auto& [kind, models] : r.positives) add(models);
  add(r.negatives), add(r.suspects);
  if (!r.reference.empty()) add({r.reference});
  add(r.approximate), add(r.direct), add(r.unrelated), add(r.candidates), add(r.tasks);
  return all;
}

void check_roles(const Roles& roles, const std::vector<std::string>& names, const std::string& roles_path,
                 const std::string& result) {
  std::string missing;
  int count = 0;
  for (const auto& m : role_models(roles))
    if (std::find(names.begin(), names.end(), m) == names.end()) missing += (count++ ? ", '" : "'") + m + "'";
  if (count == 0) return;
  std::string held;
  for (const auto& n : names) held += (held.empty() ? "" : ", ") + n;
  throw_input("roles " + roles_path + ": " + (count == 1 ? "model " : "models ") + missing + " " +
              (count == 1 ? "is" : "are") + " not in " + result + " (it holds " + held + ")");
}

std::vector<double> distances_to(const std::vector<std::string>& names, const std::vector<double>& m,
                                 const std::string& from, const std::vector<std::string>& models,
                                 const std::string& role) {
  const size_t M = names.size(), src = index_of(names, from, "source");
  std::vector<double> d;
  for (const auto& x : models) d.push_back(m[src * M + index_of(names, x, role)]);
  return d;
}

FingerprintRow fingerprint_auc_all(const std::vector<std::string>& names, const std::vector<double>& m,
                                   int64_t references, const Roles& roles) {
  const size_t M = names.size(), src = index_of(names, roles.source, "source");
  const auto dist = [&](const std::string& x) { return m[src * M + index_of(names, x, "suspect")]; };
  std::vector<double> neg;
  for (const auto& x : roles.negatives) neg.push_back(dist(x));
  FingerprintRow row{references, {}};
  for (const auto& [kind, models] : roles.positives) {
    std::vector<double> pos;
    for (const auto& x : models) pos.push_back(dist(x));
    if (!pos.empty()) row.auc[kind] = roc_auc(pos, neg);
  }
  return row;
}

PerReference per_reference_distances(const StoredFields& fields, const Roles& roles, Metric metric) {
  if (roles.source.empty() || roles.positives.empty() || roles.negatives.empty())
    throw_usage("eval: fingerprinting needs source, positives and negatives in the roles");
  std::vector<std::string> models;
  for (const auto& [kind, ms] : roles.positives) models.insert(models.end(), ms.begin(), ms.end());
  models.insert(models.end(), roles.negatives.begin(), roles.negatives.end());
  std::sort(models.begin(), models.end());
  models.erase(std::unique(models.begin(), models.end()), models.end());
  // cosine_standardized: each model's feature moments over all its rows first.
  const bool standardized = metric == Metric::CosineStandardized;
  std::map<std::string, FeatureMoments> moments;
  if (standardized) {
    std::vector<std::string> all = models;
    all.push_back(roles.source);
    for (const auto& m : all)
      for (int64_t k = 0; k < fields.blocks(); ++k) {
        const at::Tensor f = fields.read(m, k);
        moments.try_emplace(m, f.size(-1)).first->second.add(f);
      }
  }
  const auto block = [&](const std::string& m, int64_t k) {
    const at::Tensor f = fields.read(m, k);
    return standardized ? moments.at(m).standardize(f) : f;
  };
  std::map<std::string, std::vector<at::Tensor>> parts;
  for (int64_t k = 0; k < fields.blocks(); ++k) {
    const at::Tensor src = block(roles.source, k);
    for (const auto& m : models) parts[m].push_back(per_reference_distance(metric, src, block(m, k)));
  }
  PerReference per_ref;
  for (auto& [m, p] : parts) per_ref[m] = at::cat(p);
  return per_ref;
}

namespace {

// AUC per kind when each model's distance is the mean over the references `refs`.
std::map<std::string, double> auc_on(const PerReference& per_ref,
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

std::vector<FingerprintRow> fingerprint_auc(const PerReference& per_ref, const Roles& roles,
                                            const std::vector<int64_t>& counts) {
  const int64_t N = per_ref.begin()->second.size(0);
  std::vector<FingerprintRow> rows;
  for (const int64_t n : counts)
    if (n >= 1 && n <= N) rows.push_back({n, auc_on(per_ref, roles.positives, roles.negatives, at::arange(n))});
  return rows;
}

SelectionReport fingerprint_selection(const PerReference& per_ref, const Roles& roles,
                                      const std::vector<int64_t>& counts) {
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

Separation positives_nearer_than_negatives(const std::vector<std::string>& names, const std::vector<double>& m,
                                           const Roles& roles) {
  const size_t M = names.size(), src = index_of(names, roles.source, "source");
  Separation s;
  s.nearest_negative = std::numeric_limits<double>::infinity();
  for (const auto& [kind, models] : roles.positives)
    for (const auto& x : models)
      s.farthest_positive = std::max(s.farthest_positive, m[src * M + index_of(names, x, kind)]);
  for (const auto& x : roles.negatives)
    s.nearest_negative = std::min(s.nearest_negative, m[src * M + index_of(names, x, "negative")]);
  s.ok = s.farthest_positive < s.nearest_negative;
  return s;
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

std::vector<Verdict> verdicts(const std::vector<std::string>& names, const std::vector<std::string>& metrics,
                              const std::vector<std::vector<double>>& matrices, const Roles& roles, double alpha) {
  struct Test {
    const char *name, *tested_role, *null_role;
    const std::string& source;
    const std::vector<std::string>& tested;
    const std::vector<std::string>& nulls;
  };
  const Test tests[] = {{"fingerprinting", "suspect", "negative", roles.source, roles.suspects, roles.negatives},
                        {"unlearning", "candidate", "unrelated", roles.reference, roles.candidates, roles.unrelated}};
  std::vector<Verdict> out;
  for (const Test& t : tests) {
    if (t.tested.empty()) continue;
    for (size_t k = 0; k < metrics.size(); ++k) {
      const std::vector<double> null = distances_to(names, matrices[k], t.source, t.nulls, t.null_role);
      const std::vector<double> tested = distances_to(names, matrices[k], t.source, t.tested, t.tested_role);
      std::vector<double> p;
      const size_t first = out.size();
      for (size_t i = 0; i < t.tested.size(); ++i) {
        Verdict v;
        v.test = t.name, v.model = t.tested[i], v.source = t.source, v.metric = metrics[k];
        v.nulls = static_cast<int>(null.size());
        v.distance = tested[i];
        v.p_empirical = empirical_p_value(v.distance, null);
        v.p_value = predictive_p_value(v.distance, null);
        p.push_back(v.p_value);
        out.push_back(v);
      }
      const std::vector<double> adjusted = holm_adjusted(p);
      for (size_t i = 0; i < adjusted.size(); ++i) {
        out[first + i].p_adjusted = adjusted[i];
        out[first + i].derived = adjusted[i] <= alpha;
      }
    }
  }
  return out;
}

RelatednessReport relatedness(const std::vector<std::string>& names, const std::vector<double>& m, const Roles& roles) {
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
