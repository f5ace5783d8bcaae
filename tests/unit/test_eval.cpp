#include <ATen/ATen.h>
#include <expat.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "analysis/eval.hpp"
#include "modelgif/cli.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/stats.hpp"
#include "run/result_file.hpp"
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

namespace {

// Parses an SVG file with expat; counts elements by name. Fails the test when malformed.
std::map<std::string, int> parse_svg(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::map<std::string, int> counts;
  XML_Parser p = XML_ParserCreate("UTF-8");
  XML_SetUserData(p, &counts);
  XML_SetStartElementHandler(p, [](void* data, const XML_Char* name, const XML_Char**) {
    ++(*static_cast<std::map<std::string, int>*>(data))[name];
  });
  const bool ok = XML_Parse(p, text.data(), static_cast<int>(text.size()), 1) == XML_STATUS_OK;
  EXPECT_TRUE(ok) << path << ": " << XML_ErrorString(XML_GetErrorCode(p)) << " at line " << XML_GetCurrentLineNumber(p);
  XML_ParserFree(p);
  return counts;
}

}  // namespace

TEST(Eval, PicturesAreWellFormedSvgWithOneMarkPerDatum) {
  EvalZoo z;
  std::ostringstream out, err;
  ASSERT_EQ(cli::run({"eval", z.result, "--roles", z.roles, "--counts", "2,4,8,12"}, out, err), 0) << err.str();
  const std::string stem = z.dir + "/out";
  const auto heat = parse_svg(stem + "-heatmap-cosine.svg");
  EXPECT_EQ(heat.at("svg"), 1);
  EXPECT_EQ(heat.at("rect"), 1 + 6 * 6 + 50);  // background, cells, color bar
  const auto tree = parse_svg(stem + "-tree-cosine.svg");
  EXPECT_EQ(tree.at("path"), 5);          // n - 1 merges
  EXPECT_EQ(tree.at("text"), 1 + 6 + 5);  // title, leaves, axis ticks
  const auto auc = parse_svg(stem + "-auc.svg");
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
  EXPECT_DOUBLE_EQ(vs[0].p_value, predictive_p_value(0.05, null));
  EXPECT_NEAR(vs[1].p_value, 0.5, 1e-12);
  const auto adjusted = holm_adjusted({vs[0].p_value, vs[1].p_value, vs[2].p_value});
  for (size_t i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(vs[i].p_adjusted, adjusted[i]) << i;
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
  }
  EXPECT_EQ(rows, 3 * static_cast<int>(r.metrics.size()));  // 2 suspects + 1 candidate, per metric
  std::ostringstream json, json_err;
  ASSERT_EQ(cli::run({"eval", z.result, "--roles", roles, "--format", "json"}, json, json_err), 0);
  EXPECT_THAT(json.str(), HasSubstr("{\"suspect\": \"perm\", \"metric\": \"cosine\", \"distance\": ")) << json.str();
  EXPECT_EQ(json.str().front(), '[');
  std::ostringstream none, none_err;
  EXPECT_EQ(cli::run({"eval", z.result, "--roles", z.roles, "--format", "csv"}, none, none_err), kExitUsage);
  EXPECT_THAT(none_err.str(), HasSubstr("names none (fingerprinting.suspects, unlearning.candidates)"));
  std::ostringstream bad, bad_err;
  std::ofstream(z.dir + "/one.yaml") << "fingerprinting:\n  source: source\n  suspects: [perm]\n  negatives: [neg1]\n";
  EXPECT_EQ(cli::run({"eval", z.result, "--roles", z.dir + "/one.yaml"}, bad, bad_err), kExitUsage);
  EXPECT_THAT(bad_err.str(), HasSubstr("fingerprinting.negatives")) << bad_err.str();
}
