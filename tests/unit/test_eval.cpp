#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "analysis/calibration.hpp"
#include "analysis/eval.hpp"
#include "analysis/report.hpp"
#include "modelgif/cli.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/stats.hpp"
#include "run/result_file.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// A zoo with a known answer: the source, two functional copies (a channel
// permutation and the same model saved again), and three independent models.
struct EvalZoo {
  std::string dir, result, roles;
  // The per-reference distances of `roles` in the result (its stored fields).
  PerReference per_ref(const Roles& r, Metric metric = Metric::Cosine) const {
    std::string why;
    const auto fields = StoredFields::open(result, role_models(r), &why);
    EXPECT_TRUE(fields) << why;
    return per_reference_distances(*fields, r, metric);
  }
  explicit EvalZoo(bool store_fields = true) {
    dir = testsupport::temp_dir("eval");
    auto src = testsupport::tanh_cnn(1);
    src.save(dir + "/source.pt");
    testsupport::permuted_copy(src).save(dir + "/perm.pt");
    src.save(dir + "/copy.pt");
    for (int i = 0; i < 3; ++i) testsupport::tanh_cnn(10 + i).save(dir + "/neg" + std::to_string(i) + ".pt");
    testsupport::write_random_refs(dir + "/refs.h5", 12);
    std::ofstream(dir + "/run.yaml") << "zoo:\n  - {name: source, path: " << dir << "/source.pt}\n"
                                     << "  - {name: perm, path: " << dir << "/perm.pt}\n"
                                     << "  - {name: copy, path: " << dir << "/copy.pt}\n"
                                     << "  - {name: neg0, path: " << dir << "/neg0.pt}\n"
                                     << "  - {name: neg1, path: " << dir << "/neg1.pt}\n"
                                     << "  - {name: neg2, path: " << dir << "/neg2.pt}\n"
                                     << "references: {source: " << dir << "/refs.h5:/images}\n"
                                     << "field: {steps: 6}\noutput: {path: " << dir
                                     << "/out.h5, store_fields: " << (store_fields ? "true" : "false")
                                     << "}\nrun: {block: 5}\n"
                                     << "distance: {metrics: [cosine, euclidean, cosine_frechet, euclidean_frechet, "
                                     << "cosine_standardized]}\n";
    std::ostringstream out, err;
    EXPECT_EQ(cli::run({"run", "--config", dir + "/run.yaml"}, out, err), 0) << err.str();
    result = dir + "/out.h5";
    roles = dir + "/roles.yaml";
    std::ofstream(roles) << "fingerprinting:\n  source: source\n  positives: {permuted: [perm], copied: [copy]}\n"
                         << "  negatives: [neg0, neg1, neg2]\n"
                         << "unlearning:\n  reference: source\n  approximate: [perm]\n  direct: [neg0]\n"
                         << "  unrelated: [neg1, neg2]\n";
  }
};

}  // namespace

TEST(Eval, FingerprintingAucIsOneForFunctionalCopiesAtEveryCount) {
  EvalZoo z;
  const Roles roles = load_roles(z.roles);
  const auto rows = fingerprint_auc(z.per_ref(roles), roles, {1, 4, 12, 64});
  ASSERT_EQ(rows.size(), 3u);  // 64 > N is skipped
  EXPECT_EQ(rows[2].references, 12);
  for (const auto& row : rows)
    for (const auto& [kind, auc] : row.auc) EXPECT_DOUBLE_EQ(auc, 1.0) << kind << " at " << row.references;
  // Swapping roles inverts the answer: negatives as positives score 0.
  Roles swapped = roles;
  swapped.positives = {{"independent", {"neg0", "neg1"}}};
  swapped.negatives = {"perm", "copy"};
  EXPECT_DOUBLE_EQ(fingerprint_auc(z.per_ref(swapped), swapped, {12})[0].auc.at("independent"), 0.0);
}

TEST(Eval, ReferenceSelectionUsesOneHalfOfTheModelsAndEvaluatesTheOther) {
  EvalZoo z;
  Roles roles = load_roles(z.roles);
  roles.positives = {{"copies", {"perm", "copy"}}};
  roles.negatives = {"neg0", "neg1", "neg2"};
  const auto rep = fingerprint_selection(z.per_ref(roles), roles, {2, 6, 12, 99});
  EXPECT_EQ(rep.selection_models, (std::vector<std::string>{"perm", "neg0"}));
  EXPECT_EQ(rep.evaluation_models, (std::vector<std::string>{"copy", "neg1", "neg2"}));
  ASSERT_EQ(rep.selected.size(), 3u);
  for (const auto& row : rep.selected) EXPECT_DOUBLE_EQ(row.auc.at("copies"), 1.0);
  EXPECT_DOUBLE_EQ(rep.random.back().auc.at("copies"), 1.0);
  roles.negatives = {"neg0"};
  EXPECT_THROW(fingerprint_selection(z.per_ref(roles), roles, {4}), UsageError);
}

// Per-reference distances are the matrix's terms: for every metric their mean
// over the references is the matrix entry, whether they come from the stored
// fields or from the run's checkpoint.
TEST(Eval, PerReferenceDistancesAverageToTheMatrixFromFieldsOrCheckpoint) {
  const EvalZoo stored(true);
  const Roles roles = load_roles(stored.roles);
  const RunResult r = read_result(stored.result);
  EXPECT_EQ(r.references, 12);
  std::string why;
  for (size_t i = 0; i < r.metrics.size(); ++i) {
    const Metric metric = parse_metric(r.metrics[i]);
    // The matrices come from Gram sums: euclidean distances near 0 carry an
    // absolute error of about 1e-8 of the row norm (docs/configuration.md, "Conventions").
    const double scale = *std::max_element(r.matrices[i].begin(), r.matrices[i].end());
    const PerReference per_ref = stored.per_ref(roles, metric);
    for (const auto& [model, d] : per_ref) {
      ASSERT_EQ(d.size(0), 12) << model;
      const size_t a = 0, b = static_cast<size_t>(std::find(r.names.begin(), r.names.end(), model) - r.names.begin());
      EXPECT_NEAR(d.mean().item<double>(), r.matrices[i][a * r.names.size() + b], 1e-6 * scale)
          << r.metrics[i] << " " << model;
    }
  }
  // The same run without stored fields: the checkpoint serves them, equal.
  const EvalZoo bare(false);
  ASSERT_FALSE(has_fields(bare.result, "source"));
  const auto fields = StoredFields::open(bare.result, role_models(roles), &why);
  ASSERT_TRUE(fields) << why;
  EXPECT_EQ(fields->source(), "checkpoint " + bare.result + ".ckpt");
  const PerReference a = stored.per_ref(roles), b = per_reference_distances(*fields, roles, Metric::Cosine);
  for (const auto& [model, d] : a) EXPECT_LT((d - b.at(model)).abs().max().item<double>(), 1e-12) << model;
}

// eval on a result without fields: the AUC on all references from the matrix,
// the curve from the checkpoint; without the checkpoint, the full-count row
// and what to set, or one error line when a curve was asked for.
TEST(Eval, WorksOnEveryResult) {
  const EvalZoo z(false);
  std::ostringstream out, err;
  ASSERT_EQ(cli::run({"eval", z.result, "--roles", z.roles}, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("(per-reference distances from checkpoint " + z.result + ".ckpt)")) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("           8  ")) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("          12  ")) << out.str();
  std::filesystem::remove_all(z.result + ".ckpt");
  std::ostringstream bare, bare_err;
  ASSERT_EQ(cli::run({"eval", z.result, "--roles", z.roles}, bare, bare_err), 0) << bare_err.str();
  EXPECT_THAT(bare.str(), HasSubstr("          12         1.000         1.000")) << bare.str();
  EXPECT_THAT(bare.str(), Not(HasSubstr("           8  "))) << bare.str();
  EXPECT_THAT(bare.str(), HasSubstr("(all references only: " + z.result + " stores no fields")) << bare.str();
  EXPECT_THAT(bare.str(), HasSubstr("set output.store_fields: true")) << bare.str();
  std::ostringstream asked, asked_err;
  EXPECT_EQ(cli::run({"eval", z.result, "--roles", z.roles, "--counts", "4,8"}, asked, asked_err), kExitInput);
  EXPECT_THAT(asked_err.str(), HasSubstr("modelgif: error: eval: " + z.result +
                                         " stores no fields (output.store_fields: "
                                         "false) and there is no checkpoint " +
                                         z.result + ".ckpt"));
  EXPECT_THAT(asked_err.str(), HasSubstr("set output.store_fields: true and rerun")) << asked_err.str();
  const std::string line = asked_err.str();
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
}

TEST(Eval, RolesNamingModelsTheResultLacksAreRefusedFirst) {
  const EvalZoo z(false);
  std::filesystem::remove_all(z.result + ".ckpt");  // nothing else could be read anyway
  const std::string roles = z.dir + "/bad-roles.yaml";
  std::ofstream(roles) << "fingerprinting:\n  source: source\n  positives: {copied: [copy, ghost]}\n"
                       << "  negatives: [neg0, phantom]\n";
  std::ostringstream out, err;
  EXPECT_EQ(cli::run({"eval", z.result, "--roles", roles, "--counts", "4"}, out, err), kExitInput);
  EXPECT_THAT(err.str(), HasSubstr("modelgif: error: roles " + roles + ": models 'ghost', 'phantom' are not in " +
                                   z.result + " (it holds source, perm, copy, neg0, neg1, neg2)"))
      << err.str();
}

TEST(Eval, UnlearningTableAndVerdicts) {
  EvalZoo z;
  const RunResult r = read_result(z.result);
  const auto rep = unlearning(r.names, r.matrices[0], load_roles(z.roles));
  EXPECT_LT(rep.approximate.mean, 1e-6);
  EXPECT_EQ(rep.unrelated.n, 2);
  EXPECT_LE(rep.unrelated.min, rep.unrelated.max);
  EXPECT_THAT(rep.verdict.at("perm"), HasSubstr("not forgotten"));
  std::ostringstream out, err;
  ASSERT_EQ(cli::run({"eval", z.result, "--roles", z.roles, "--counts", "4,12"}, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("fingerprinting: ROC AUC")) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("perm: 0.000, still close to the reference")) << out.str();
}

// The demo's check: every positive nearer the source than every negative.
TEST(Eval, PositivesNearerThanNegativesIsTheDemosCheck) {
  const std::vector<std::string> names = {"s", "p1", "p2", "n1", "n2"};
  std::vector<double> m(25, 0.0);
  const auto set = [&](size_t i, double d) { m[i] = m[i * 5] = d; };  // row and column of the source
  set(1, 0.1), set(2, 0.4), set(3, 0.8), set(4, 0.9);
  Roles roles;
  roles.source = "s";
  roles.positives = {{"finetune", {"p1"}}, {"prune", {"p2"}}};
  roles.negatives = {"n1", "n2"};
  Separation s = positives_nearer_than_negatives(names, m, roles);
  EXPECT_TRUE(s.ok);
  EXPECT_DOUBLE_EQ(s.farthest_positive, 0.4);
  EXPECT_DOUBLE_EQ(s.nearest_negative, 0.8);
  EXPECT_EQ(format_separation("cosine", s),
            "check (cosine): farthest derived model 0.4000 < nearest independent model 0.8000: PASS\n");
  set(2, 0.85);  // a positive beyond a negative
  s = positives_nearer_than_negatives(names, m, roles);
  EXPECT_FALSE(s.ok);
  EXPECT_THAT(format_separation("cosine", s), HasSubstr("0.8500 >= nearest independent model 0.8000: FAIL"));
  roles.negatives.push_back("n3");
  EXPECT_THAT(testsupport::message_of<InputError>([&] { positives_nearer_than_negatives(names, m, roles); }),
              HasSubstr("'n3'"));
}

TEST(Eval, RelatednessSpearmanOfMonotoneAndReversedAffinities) {
  const std::vector<std::string> names = {"t0", "t1", "t2", "t3"};
  // Symmetric distances with a zero diagonal.
  const std::vector<double> d = {0, 1, 2, 3,  //
                                 1, 0, 4, 5,  //
                                 2, 4, 0, 6,  //
                                 3, 5, 6, 0};
  Roles roles;
  roles.tasks = names;
  roles.affinity.assign(4, std::vector<double>(4));
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 4; ++j) roles.affinity[i][j] = -d[i * 4 + j];  // nearer = more transferable
  auto rep = relatedness(names, d, roles);
  EXPECT_DOUBLE_EQ(rep.mean, -1.0);
  EXPECT_DOUBLE_EQ(rep.mean_no_diagonal, -1.0);
  for (auto& row : roles.affinity)
    for (auto& a : row) a = -a;
  rep = relatedness(names, d, roles);
  EXPECT_DOUBLE_EQ(rep.mean, 1.0);
  roles.tasks = {"t0", "t1", "nope"};
  EXPECT_THROW(relatedness(names, d, roles), InputError);
}

TEST(Eval, RolesFilesAreChecked) {
  const std::string dir = testsupport::temp_dir("roles");
  std::ofstream(dir + "/bad.yaml") << "fingerprinting:\n  sorce: a\n";
  try {
    load_roles(dir + "/bad.yaml");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("fingerprinting.sorce"));
  }
  std::ofstream(dir + "/shape.yaml") << "relatedness:\n  tasks: [a, b, c]\n  affinity: [[1, 2, 3], [1, 2]]\n";
  EXPECT_THROW(load_roles(dir + "/shape.yaml"), UsageError);
}

TEST(Eval, PicturesAreWellFormedSvgWithOneMarkPerDatum) {
  EvalZoo z;
  std::ostringstream out, err;
  ASSERT_EQ(cli::run({"eval", z.result, "--roles", z.roles, "--counts", "2,4,8,12"}, out, err), 0) << err.str();
  const std::string stem = z.dir + "/out";
  const auto heat = testsupport::parse_svg_file(stem + "-heatmap-cosine.svg").count;
  EXPECT_EQ(heat.at("svg"), 1);
  EXPECT_EQ(heat.at("rect"), 1 + 6 * 6 + 50);  // background, cells, color bar
  const auto tree = testsupport::parse_svg_file(stem + "-tree-cosine.svg").count;
  EXPECT_EQ(tree.at("path"), 5);          // n - 1 merges
  EXPECT_EQ(tree.at("text"), 1 + 6 + 5);  // title, leaves, axis ticks
  const auto auc = testsupport::parse_svg_file(stem + "-auc.svg").count;
  // 2 kinds x 4 counts, each kind its marker (circles, squares) and one in its legend.
  EXPECT_EQ(auc.at("circle"), 4 + 1);
  EXPECT_EQ(auc.at("rect"), 1 + 4 + 1 + 1);  // background, squares, legend square, plot frame
  std::ifstream t(stem + "-tree-cosine.svg");
  std::stringstream ts;
  ts << t.rdbuf();
  for (const char* name : {"source", "perm", "copy", "neg0", "neg1", "neg2"})
    EXPECT_THAT(ts.str(), HasSubstr(std::string(">") + name + "<")) << name;
}

// The auditor's verdicts on known distances: a suspect closer than every
// negative, one in the middle, one tied with a negative; Holm over them.
TEST(Eval, SuspectVerdictsHavePValuesAgainstTheNegativesAndHolm) {
  const std::vector<std::string> names = {"src", "close", "middle", "tied", "n0", "n1", "n2", "n3", "n4"};
  const std::vector<double> to_src = {0, 0.05, 0.84, 0.82, 0.80, 0.82, 0.84, 0.86, 0.88};
  std::vector<double> m(names.size() * names.size(), 0.5);
  for (size_t i = 0; i < names.size(); ++i) m[i] = m[i * names.size()] = to_src[i];
  Roles roles;
  roles.source = "src";
  roles.negatives = {"n0", "n1", "n2", "n3", "n4"};
  roles.suspects = {"close", "middle", "tied"};
  const auto vs = verdicts(names, {"cosine"}, {m}, roles, 0.01);
  ASSERT_EQ(vs.size(), 3u);
  const std::vector<double> null = {0.80, 0.82, 0.84, 0.86, 0.88};
  EXPECT_DOUBLE_EQ(vs[0].p_empirical, 1.0 / 6.0);  // closer than all: the smallest the negatives allow
  EXPECT_DOUBLE_EQ(vs[1].p_empirical, 4.0 / 6.0);  // 0.84: three negatives at least as close
  EXPECT_DOUBLE_EQ(vs[2].p_empirical, 3.0 / 6.0);  // tied with n1 at 0.82: the tie counts
  // Pinned to mpmath (tests/unit/test_stats.cpp): Student's t, 4 dof.
  EXPECT_NEAR(vs[0].p_value, 1.09503703915991e-5, 1e-16);
  EXPECT_NEAR(vs[1].p_value, 0.5, 1e-12);
  EXPECT_NEAR(vs[2].p_value, 0.297321082148474, 1e-12);
  // Holm: 3 x 1.095e-5; 2 x 0.2973 = 0.5946; 1 x 0.5 raised to 0.5946 (monotone).
  EXPECT_NEAR(vs[0].p_adjusted, 3.28511111748e-5, 1e-15);
  EXPECT_NEAR(vs[1].p_adjusted, 0.594642164297, 1e-11);
  EXPECT_NEAR(vs[2].p_adjusted, 0.594642164297, 1e-11);
  EXPECT_TRUE(vs[0].derived);
  EXPECT_FALSE(vs[1].derived);
  EXPECT_FALSE(vs[2].derived);
  EXPECT_EQ(vs[0].nulls, 5);
  EXPECT_EQ(vs[0].source, "src");
}

TEST(Eval, SuspectsAndCandidatesEndToEndAsTableCsvAndJson) {
  const EvalZoo z;
  const std::string roles = z.dir + "/audit.yaml";
  std::ofstream(roles) << "fingerprinting:\n  source: source\n  suspects: [perm, neg0]\n  negatives: [neg1, neg2]\n"
                       << "unlearning:\n  reference: source\n  candidates: [copy]\n  unrelated: [neg1, neg2]\n";
  std::ostringstream out, err;
  ASSERT_EQ(cli::run({"eval", z.result, "--roles", roles}, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("suspects of 'source', cosine: against 2 independent negatives")) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("unlearning candidates of 'source', euclidean")) << out.str();
  EXPECT_THAT(out.str(), Not(HasSubstr("ROC AUC"))) << out.str();  // no positives: no AUC table
  std::ostringstream csv, csv_err;
  ASSERT_EQ(cli::run({"eval", z.result, "--roles", roles, "--format", "csv", "--alpha", "0.05"}, csv, csv_err), 0)
      << csv_err.str();
  std::istringstream lines(csv.str());
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "suspect,metric,distance,p_empirical,p_value,derived");
  int rows = 0;
  const RunResult r = read_result(z.result);
  std::map<std::string, std::map<std::string, std::vector<std::string>>> by_metric;  // metric -> model -> fields
  while (std::getline(lines, line)) {
    ++rows;
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 6u) << line;
    // The distance is the matrix's, every digit.
    const auto mi = std::find(r.metrics.begin(), r.metrics.end(), f[1]) - r.metrics.begin();
    const auto mj = std::find(r.names.begin(), r.names.end(), f[0]) - r.names.begin();
    EXPECT_EQ(std::stod(f[2]), r.matrices[static_cast<size_t>(mi)][static_cast<size_t>(mj)]) << line;
    if (f[0] != "neg0") EXPECT_DOUBLE_EQ(std::stod(f[3]), 1.0 / 3.0) << line;  // closer than both negatives
    if (f[0] == "perm" || f[0] == "copy") EXPECT_LT(std::stod(f[4]), 0.05) << line;
    ASSERT_TRUE(f[5] == "true" || f[5] == "false") << line;
    by_metric[f[1]][f[0]] = f;
  }
  EXPECT_EQ(rows, 3 * static_cast<int>(r.metrics.size()));  // 2 suspects + 1 candidate, per metric
  // derived: Holm over the two suspects (perm, neg0) at 0.05; the one
  // candidate alone, so its own p-value (< 0.05 above) decides.
  for (const auto& [metric, row] : by_metric) {
    const auto holm = holm_adjusted({std::stod(row.at("perm")[4]), std::stod(row.at("neg0")[4])});
    EXPECT_EQ(row.at("perm")[5], holm[0] <= 0.05 ? "true" : "false") << metric;
    EXPECT_EQ(row.at("neg0")[5], holm[1] <= 0.05 ? "true" : "false") << metric;
    EXPECT_EQ(row.at("copy")[5], "true") << metric;
  }
  std::ostringstream json, json_err;
  ASSERT_EQ(cli::run({"eval", z.result, "--roles", roles, "--format", "json"}, json, json_err), 0);
  EXPECT_THAT(json.str(), HasSubstr("{\"suspect\": \"perm\", \"metric\": \"cosine\", \"distance\": ")) << json.str();
  // The candidate's row at the default alpha 0.01, derived as in the csv's p_value.
  const std::string copy_row = json.str().substr(json.str().find("{\"suspect\": \"copy\", \"metric\": \"cosine\""));
  const std::string p_copy = by_metric.at("cosine").at("copy")[4];
  EXPECT_THAT(copy_row.substr(0, copy_row.find('}')),
              HasSubstr("\"p_value\": " + p_copy + ", \"derived\": " + (std::stod(p_copy) <= 0.01 ? "true" : "false")))
      << json.str();
  EXPECT_EQ(json.str().front(), '[');
  std::ostringstream none, none_err;
  EXPECT_EQ(cli::run({"eval", z.result, "--roles", z.roles, "--format", "csv"}, none, none_err), kExitUsage);
  EXPECT_THAT(none_err.str(), HasSubstr("names none (fingerprinting.suspects, unlearning.candidates)"));
  std::ostringstream bad, bad_err;
  std::ofstream(z.dir + "/one.yaml") << "fingerprinting:\n  source: source\n  suspects: [perm]\n  negatives: [neg1]\n";
  EXPECT_EQ(cli::run({"eval", z.result, "--roles", z.dir + "/one.yaml"}, bad, bad_err), kExitUsage);
  EXPECT_THAT(bad_err.str(), HasSubstr("fingerprinting.negatives")) << bad_err.str();
}

// Roles that contradict themselves are refused on load, one line naming the
// key and the model.
TEST(Eval, RolesThatTestAModelAgainstItselfOrListItTwiceAreRefused) {
  const std::string dir = testsupport::temp_dir("bad-roles");
  const std::pair<std::string, std::string> cases[] = {
      {"fingerprinting: {source: s, suspects: [x, n1], negatives: [n1, n2]}",
       "key 'fingerprinting.suspects': model 'n1' is also a negative (fingerprinting.negatives)"},
      {"fingerprinting: {source: s, suspects: [s], negatives: [n1, n2]}",
       "key 'fingerprinting.suspects': model 's' is also the source (fingerprinting.source)"},
      {"fingerprinting: {source: s, suspects: [x], negatives: [n1, n2, n1]}",
       "key 'fingerprinting.negatives': model 'n1' is listed twice"},
      {"fingerprinting: {source: s, suspects: [x, y, x], negatives: [n1, n2]}",
       "key 'fingerprinting.suspects': model 'x' is listed twice"},
      {"fingerprinting: {source: s, positives: {prune: [p, p]}, negatives: [n1]}",
       "key 'fingerprinting.positives.prune': model 'p' is listed twice"},
      {"unlearning: {reference: r, candidates: [c, u2], unrelated: [u1, u2]}",
       "key 'unlearning.candidates': model 'u2' is also an unrelated model (unlearning.unrelated)"},
      {"unlearning: {reference: r, candidates: [r], unrelated: [u1, u2]}",
       "key 'unlearning.candidates': model 'r' is also the reference (unlearning.reference)"},
      {"unlearning: {reference: r, candidates: [c, c], unrelated: [u1, u2]}",
       "key 'unlearning.candidates': model 'c' is listed twice"},
      {"unlearning: {reference: r, candidates: [c], unrelated: [u1, u1]}",
       "key 'unlearning.unrelated': model 'u1' is listed twice"},
      {"unlearning: {reference: r, candidates: [c], unrelated: [u1]}",
       "key 'unlearning.unrelated': testing candidates needs at least 2 unrelated models"},
      {"fingerprinting: {source: s, suspects: [x], negatives: [n1]}",
       "key 'fingerprinting.negatives': testing suspects needs at least 2 negatives"},
      {"relatedness: {tasks: [a, b, a], affinity: [[1, 2, 3], [1, 2, 3], [1, 2, 3]]}",
       "key 'relatedness.tasks': model 'a' is listed twice"}};
  int i = 0;
  for (const auto& [yaml, message] : cases) {
    const std::string path = dir + "/roles" + std::to_string(i++) + ".yaml";
    std::ofstream(path) << yaml << "\n";
    const std::string what = testsupport::message_of<UsageError>([&] { load_roles(path); });
    EXPECT_EQ(what.rfind("roles " + path + ": " + message, 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  // Apart, the same models are fine.
  std::ofstream(dir + "/good.yaml") << "fingerprinting: {source: s, suspects: [x], negatives: [n1, n2]}\n"
                                    << "unlearning: {reference: s, candidates: [x], unrelated: [n1, n2]}\n";
  EXPECT_EQ(load_roles(dir + "/good.yaml").suspects, std::vector<std::string>{"x"});
}

// A suspect or candidate the result does not hold is named before anything is read.
TEST(Eval, ASuspectOrCandidateMissingFromTheResultIsNamed) {
  Roles roles;
  roles.source = roles.reference = "a";
  roles.negatives = roles.unrelated = {"b", "c"};
  roles.suspects = {"ghost"};
  roles.candidates = {"phantom"};
  const std::string what = testsupport::message_of<InputError>([&] {
    check_roles(roles, {"a", "b", "c"}, "audit.yaml", "out.h5");
  });
  EXPECT_EQ(what, "roles audit.yaml: models 'ghost', 'phantom' are not in out.h5 (it holds a, b, c)");
  roles.candidates.clear();
  EXPECT_THAT(testsupport::message_of<InputError>([&] {
                check_roles(roles, {"a", "b", "c"}, "r", "o");
              }),
              HasSubstr("model 'ghost' is not in o"));
}

// Unlearning candidates get the same test against the unrelated models, and
// the table says which are still close to the reference.
TEST(Eval, UnlearningCandidatesAreNotForgottenOrAsFarAsAnUnrelatedModel) {
  const std::vector<std::string> names = {"ref", "approx", "retrained", "u0", "u1", "u2", "u3", "u4"};
  const std::vector<double> m = testsupport::star_matrix({0, 0.05, 0.83, 0.80, 0.82, 0.84, 0.86, 0.88});
  Roles roles;
  roles.reference = "ref";
  roles.unrelated = {"u0", "u1", "u2", "u3", "u4"};
  roles.candidates = {"approx", "retrained"};
  const auto vs = verdicts(names, {"cosine"}, {m}, roles, 0.01);
  ASSERT_EQ(vs.size(), 2u);
  EXPECT_EQ(vs[0].test, "unlearning");
  EXPECT_NEAR(vs[0].p_value, 1.09503703915991e-5, 1e-16);  // as a suspect at 0.05 (Stats)
  EXPECT_TRUE(vs[0].derived);
  EXPECT_FALSE(vs[1].derived);
  const std::string table = format_verdicts(vs, 0.01, "table");
  EXPECT_THAT(table, HasSubstr("unlearning candidates of 'ref', cosine: against 5 unrelated models (Holm over the "
                               "candidates, alpha 0.01)"))
      << table;
  EXPECT_THAT(table, HasSubstr("approx                  0.0500        0.167   1.10e-05   2.19e-05  not forgotten "
                               "(closer than unrelated models)"))
      << table;
  EXPECT_THAT(table, HasSubstr("retrained               0.8300        0.500"));
  EXPECT_THAT(table, HasSubstr("as far as an unrelated model\n")) << table;
}

namespace {

// Hand-made calibration zoo: the source, 9 negatives, three kinds of positives.
//  Negatives at 0.80, 0.81, ..., 0.87 and 0.775. Left out, 0.775 meets the
//  other eight (mean 0.835, sd sqrt(0.0042 / 7) = 0.02449, scale sd sqrt(9/8)
//  = 0.02598): t = -2.309 on 7 dof, between t(0.025) = -2.365 and t(0.05) =
//  -1.895: flagged at 0.05, not at 0.01. Every other negative left out has
//  p > 0.17 (0.80 is the nearest: 0.178). False positives: 1/9 at 0.05, 0/9 at 0.01.
//  Positives against all 9 (mean 0.8283, sd 0.03118, scale 0.03287, 8 dof):
//  "copies" at 0.10, 0.20: p < 1e-7, 2/2 alone and with Holm; "edge" at 0.725
//  and 0.73: p = 0.0061 and 0.0077, 2/2 alone, but Holm doubles the smaller
//  (0.0122 > 0.01): 0/2; "far" at 0.90: p = 0.97, 0/1.
struct CalibrationZoo {
  std::vector<std::string> names = {"src", "n0", "n1", "n2", "n3", "n4", "n5", "n6",
                                    "n7",  "n8", "c0", "c1", "e0", "e1", "f0"};
  std::vector<double> to_src = {0,    0.80,  0.81, 0.82, 0.83,  0.84, 0.85, 0.86,
                                0.87, 0.775, 0.10, 0.20, 0.725, 0.73, 0.90};
  Roles roles;
  CalibrationZoo() {
    roles.source = "src";
    roles.negatives = {"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"};
    roles.positives = {{"copies", {"c0", "c1"}}, {"edge", {"e0", "e1"}}, {"far", {"f0"}}};
  }
};

}  // namespace

TEST(Eval, CalibrationRatesOfAHandMadeZoo) {
  const CalibrationZoo z;
  const std::vector<double> m = testsupport::star_matrix(z.to_src);
  std::vector<double> scaled = m;  // every distance x 3: the same p-values
  for (double& x : scaled) x *= 3;
  const auto cs = calibrate(z.names, {"cosine", "euclidean"}, {m, scaled}, z.roles);
  ASSERT_EQ(cs.size(), 2u);
  for (const Calibration& c : cs) {
    EXPECT_EQ(c.source, "src");
    EXPECT_EQ(c.negatives, 9);
    ASSERT_EQ(c.fpr_alphas, (std::vector<double>{0.05, 0.01}));
    EXPECT_EQ(c.false_positives[0].flagged, 1) << c.metric;
    EXPECT_EQ(c.false_positives[1].flagged, 0) << c.metric;
    EXPECT_EQ(c.false_positives[0].trials, 9);
    ASSERT_EQ(c.true_positives.size(), 3u);
    const std::vector<std::tuple<std::string, int, int, int>> want = {
        {"copies", 2, 2, 2}, {"edge", 2, 0, 2}, {"far", 0, 0, 1}};  // kind, alone, Holm, models
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(c.true_positives[k].kind, std::get<0>(want[k]));
      EXPECT_EQ(c.true_positives[k].alone.flagged, std::get<1>(want[k])) << std::get<0>(want[k]);
      EXPECT_EQ(c.true_positives[k].holm.flagged, std::get<2>(want[k])) << std::get<0>(want[k]);
      EXPECT_EQ(c.true_positives[k].alone.trials, std::get<3>(want[k]));
    }
  }
  // The rates' sampling errors: sqrt(a (1 - a) / 9) at the nominal level.
  EXPECT_NEAR(standard_error_at(0.05, 9), 0.0726483157256779, 1e-15);
  EXPECT_NEAR(standard_error_at(0.01, 9), 0.0331662479035540, 1e-15);
  Roles few = z.roles;
  few.negatives = {"n0", "n1"};
  EXPECT_THAT(
      testsupport::message_of<UsageError>([&] { calibrate(z.names, {"cosine"}, {m}, few); }),
      HasSubstr("needs at least 3 fingerprinting.negatives (each is left out and judged by the others), got 2"));
}

TEST(Eval, CalibrateFromTheCommandLineAsTableCsvAndJson) {
  const CalibrationZoo z;
  const std::string dir = testsupport::temp_dir("calibrate");
  testsupport::write_matrix_result(dir + "/zoo.h5", z.names, {"cosine"}, {testsupport::star_matrix(z.to_src)});
  std::ofstream(dir + "/roles.yaml") << "fingerprinting:\n  source: src\n"
                                     << "  positives: {copies: [c0, c1], edge: [e0, e1], far: [f0]}\n"
                                     << "  negatives: [n0, n1, n2, n3, n4, n5, n6, n7, n8]\n";
  const auto table = testsupport::run_cli({"eval", dir + "/zoo.h5", "--roles", dir + "/roles.yaml", "--calibrate"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("calibration of the suspects' test, cosine distance to 'src' (9 negatives)\n"
                                   "  false positives: each negative left out and tested alone against the other 8\n"))
      << table.out;
  // 1/9 = 0.111, SE sqrt(0.05 x 0.95 / 9) = 0.073, Clopper-Pearson [0.0028, 0.4825] (mpmath).
  EXPECT_THAT(table.out, HasSubstr("    0.05         1/9  0.111         0.073   [0.003, 0.482]\n")) << table.out;
  EXPECT_THAT(table.out, HasSubstr("    0.01         0/9  0.000         0.033   [0.000, 0.336]\n")) << table.out;
  EXPECT_THAT(table.out, HasSubstr("    edge            2/2  1.000 [0.158, 1.000]       0/2  0.000\n")) << table.out;
  EXPECT_THAT(table.out, HasSubstr("not independent")) << table.out;
  const auto csv =
      testsupport::run_cli({"eval", dir + "/zoo.h5", "--roles", dir + "/roles.yaml", "--calibrate", "--format", "csv"});
  ASSERT_EQ(csv.code, 0) << csv.err;
  std::istringstream lines(csv.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "metric,source,test,kind,alpha,holm,flagged,trials,rate,se_at_alpha,ci95_lower,ci95_upper");
  std::vector<std::vector<std::string>> rows;
  while (std::getline(lines, line)) {
    rows.emplace_back();
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) rows.back().push_back(x);
    if (line.back() == ',') rows.back().emplace_back();
  }
  ASSERT_EQ(rows.size(), 2u + 3 * 2);  // 2 levels, 3 kinds alone and with Holm
  EXPECT_EQ(rows[0][2], "false_positive");
  EXPECT_EQ(rows[0][3], "negatives");
  EXPECT_EQ(std::stod(rows[0][4]), 0.05);
  EXPECT_EQ(rows[0][6] + "/" + rows[0][7], "1/9");
  EXPECT_NEAR(std::stod(rows[0][9]), 0.0726483157256779, 1e-15);
  EXPECT_NEAR(std::stod(rows[0][10]), 0.0028091367466, 1e-12);
  EXPECT_NEAR(std::stod(rows[0][11]), 0.482496514917, 1e-11);
  EXPECT_EQ(rows[1][6] + "/" + rows[1][7], "0/9");
  EXPECT_NEAR(std::stod(rows[1][11]), 1 - std::pow(0.025, 1.0 / 9), 1e-12);
  // edge, with Holm: 0 of 2; no se_at_alpha for a true-positive rate.
  EXPECT_EQ(rows[5][2] + " " + rows[5][3] + " " + rows[5][5] + " " + rows[5][6] + "/" + rows[5][7],
            "true_positive edge true 0/2");
  EXPECT_EQ(rows[5][9], "");
  EXPECT_EQ(rows[4][5] + " " + rows[4][6], "false 2");
  const auto json = testsupport::run_cli(
      {"eval", dir + "/zoo.h5", "--roles", dir + "/roles.yaml", "--calibrate", "--format", "json"});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"test\": \"true_positive\", \"kind\": \"far\", \"alpha\": 0.01, \"holm\": true, "
                                  "\"flagged\": 0, \"trials\": 1, \"rate\": 0, \"se_at_alpha\": null"))
      << json.out;
  // Too few negatives: one line, exit 2.
  std::ofstream(dir + "/few.yaml") << "fingerprinting: {source: src, negatives: [n0, n1]}\n";
  const auto few = testsupport::run_cli({"eval", dir + "/zoo.h5", "--roles", dir + "/few.yaml", "--calibrate"});
  EXPECT_EQ(few.code, kExitUsage);
  EXPECT_EQ(few.err,
            "modelgif: error: eval --calibrate: needs at least 3 fingerprinting.negatives (each is left out and "
            "judged by the others), got 2\n");
  EXPECT_EQ(few.out, "");
}
