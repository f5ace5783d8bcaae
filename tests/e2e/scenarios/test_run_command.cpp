// Scenarios of `modelgif run`, `compare` and `show` on a tiny zoo, through the
// CLI in this process: the result's schema against the engine, command-line
// overrides, one line and an exit code per bad input, the options of compare
// and show.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/references.hpp"
#include "run/result_file.hpp"
#include "support/cli.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using testsupport::Result;
using testsupport::run_cli;

class RunCommand : public testsupport::TinyZoo {};
class BadInputs : public testsupport::TinyZoo {};
class CompareAndShow : public testsupport::TinyZoo {};

TEST_F(RunCommand, RunWritesTheDocumentedSchemaAndMatchesTheEngine) {
  const Result r = run_cli({"run", "--config", config});
  ASSERT_EQ(r.code, 0) << r.err;
  const RunResult res = read_result(output);
  EXPECT_EQ(res.names, (std::vector<std::string>{"a", "a-perm", "b"}));
  EXPECT_EQ(res.metrics.size(), 5u);
  for (const auto& m : res.matrices) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(m[i * 3 + i], 0.0);
      for (int j = 0; j < 3; ++j) EXPECT_EQ(m[i * 3 + j], m[j * 3 + i]);
    }
  }
  const auto& cosine = res.matrices[std::find(res.metrics.begin(), res.metrics.end(), "cosine") - res.metrics.begin()];
  EXPECT_LT(cosine[1], 1e-6);  // a vs its permuted copy
  EXPECT_GT(cosine[2], 0.05);  // a vs b
  EXPECT_THAT(res.config, HasSubstr("steps: 6"));

  // Stored fields equal a direct engine computation on the same references.
  auto model = testsupport::tanh_cnn(1);
  ReferenceConfig rc;
  rc.source = dir + "/refs.h5:/images";
  const auto refs = load_references(rc);
  FieldSpec spec;
  spec.steps = 6;
  const auto direct = FieldEngine(spec, 1000, c10::Device(c10::kCPU))
                          .compute({testsupport::fn_of(model), "a", refs.images, at::zeros_like(refs.images)})
                          .field;
  const auto stored = read_fields(output, "a");
  ASSERT_EQ(stored.sizes(), (at::IntArrayRef{7, 6, 64}));
  EXPECT_LT((stored - direct).abs().max().item<double>(), 1e-6 * direct.abs().max().item<double>());

  auto f = h5::File::open(output);
  EXPECT_EQ(h5::read_i64(f.id(), "/references/indices"), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(h5::dims(f.id(), "/diagnostics/zero_norm_rows"), (std::vector<hsize_t>{3, 3}));
  for (const char* attr : {"modelgif_version", "libtorch_version", "hdf5_version", "created"})
    EXPECT_TRUE(h5::has_attr(f.id(), "/", attr)) << attr;
  EXPECT_EQ(h5::get_attr_int(f.id(), "/", "points"), 3 * 7 * 6);

  // show prints every metric with the model names.
  const Result s = run_cli({"show", output, "--metric", "cosine", "--precision", "6"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_THAT(s.out, HasSubstr("a-perm"));
  EXPECT_THAT(s.out, Not(HasSubstr("euclidean")));
  std::ostringstream cell;
  cell << std::fixed << std::setprecision(6) << cosine[2];
  EXPECT_THAT(s.out, HasSubstr(cell.str())) << s.out;
}

TEST_F(RunCommand, CommandLineOverridesHalfFieldsAndNoLeftovers) {
  const Result r = run_cli({"run", "--config", config, "--field.steps", "4", "--output.field_dtype", "float16",
                            "--distance.metrics", "cosine,cosine_standardized", "--output.store_fields", "false"});
  ASSERT_EQ(r.code, 0) << r.err;
  const RunResult res = read_result(output);
  EXPECT_EQ(res.metrics, (std::vector<std::string>{"cosine", "cosine_standardized"}));
  EXPECT_THAT(res.config, HasSubstr("steps: 4"));
  auto f = h5::File::open(output);
  EXPECT_FALSE(h5::exists(f.id(), "/fields"));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir + "/out")) left.push_back(e.path().filename());
  std::sort(left.begin(), left.end());
  // No scratch or temporary file: the result, its checkpoint and its pictures.
  EXPECT_EQ(left, (std::vector<std::string>{"result-heatmap-cosine.svg", "result-heatmap-cosine_standardized.svg",
                                            "result-tree-cosine.svg", "result-tree-cosine_standardized.svg",
                                            "result.h5", "result.h5.ckpt"}));

  // Another step count is refused while the checkpoint holds work of the old one...
  const Result refused = run_cli({"run", "--config", config, "--output.field_dtype", "float16"});
  EXPECT_EQ(refused.code, kExitInput);
  EXPECT_THAT(refused.err, HasSubstr("field.steps was 4, now 6")) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("--recompute")) << refused.err;
  // ... and replaced with --recompute.
  const Result h = run_cli({"run", "--config", config, "--output.field_dtype", "float16", "--recompute"});
  ASSERT_EQ(h.code, 0) << h.err;
  const auto half = read_fields(output, "b");
  const Result g = run_cli({"run", "--config", config});
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_THAT(g.out, HasSubstr("0 of 9 (model, block) pieces computed, 9 reused")) << g.out;
  const auto full = read_fields(output, "b");
  EXPECT_LT((half - full).abs().max().item<double>(), 2e-3 * full.abs().max().item<double>());
  EXPECT_GT((half - full).abs().max().item<double>(), 0.0);
  // compare: the float16 fields differ beyond 1e-6 but not beyond 1e-2.
  fs::copy_file(output, dir + "/float32.h5");
  const Result h2 = run_cli({"run", "--config", config, "--output.field_dtype", "float16"});
  ASSERT_EQ(h2.code, 0) << h2.err;
  const Result strict = run_cli({"compare", output, dir + "/float32.h5"});
  EXPECT_EQ(strict.code, kExitDifferent) << strict.out;
  EXPECT_THAT(strict.out, HasSubstr("DIFFERENT beyond")) << strict.out;
  const Result loose = run_cli({"compare", output, dir + "/float32.h5", "--rtol", "1e-2"});
  EXPECT_EQ(loose.code, 0) << loose.out;
  EXPECT_THAT(loose.out, HasSubstr("cosine: largest difference 0 (relative 0);")) << loose.out;
  // --distances-only: the same distances agree, the fields' difference is printed, not judged.
  const Result distances = run_cli({"compare", output, dir + "/float32.h5", "--distances-only"});
  EXPECT_EQ(distances.code, 0) << distances.out;
  EXPECT_THAT(distances.out, HasSubstr(" references (median reference ")) << distances.out;
  EXPECT_THAT(distances.out, HasSubstr(") (not judged)\n")) << distances.out;
  // --atol accepts what the default tolerance does not, and the pair that decided is named.
  const Result other = run_cli({"run", "--config", config, "--field.steps", "5", "--output.path", dir + "/s5.h5"});
  ASSERT_EQ(other.code, 0) << other.err;
  const Result rel_only = run_cli({"compare", output, dir + "/s5.h5", "--distances-only"});
  EXPECT_EQ(rel_only.code, kExitDifferent) << rel_only.out;
  EXPECT_THAT(rel_only.out, HasSubstr("closest call (")) << rel_only.out;
  EXPECT_THAT(rel_only.out, HasSubstr(": DIFFERENT\n")) << rel_only.out;
  const Result with_atol = run_cli({"compare", output, dir + "/s5.h5", "--distances-only", "--atol", "10"});
  EXPECT_EQ(with_atol.code, 0) << with_atol.out << with_atol.err;
}

TEST_F(BadInputs, EveryBadInputHasOneClearLineAndItsExitCode) {
  expect_failure({"--zoo", "a=" + dir + "/missing.pt"}, kExitInput, "missing.pt");
  expect_failure({"--zoo", "j=" + dir + "/junk.pt"}, kExitInput, "not a TorchScript archive");
  expect_failure({"--field.target", "topk:1"}, kExitInput, "model 'a'");
  expect_failure({"--references.source", dir + "/refs.h5:/two_channel"}, kExitInput,
                 "model 'a' does not accept references of shape 2x8x8");
  expect_failure({"--zoo", "rooty=" + dir + "/sqrt.pt", "--zoo", "a=" + dir + "/a.pt"}, kExitNumeric,
                 "model 'rooty': gradient field is NaN/Inf at reference 0");
  expect_failure({"--field.stepz", "3"}, kExitUsage, "did you mean '--field.steps'");
  expect_failure({"--field.steps", "many"}, kExitUsage, "'field.steps': expected an integer");
  expect_failure({"--field.target", "label"}, kExitUsage, "references.labels");
  expect_failure({"--references.source", dir + "/nothing.idx"}, kExitInput, "nothing.idx");
  expect_failure({"--output.path", "/proc/modelgif/result.h5"}, kExitInput, "/proc/modelgif/result.h5");
  // A directory in place of the file cannot be replaced by the rename.
  fs::create_directories(output);
  const Result r = run_cli({"run", "--config", config});
  EXPECT_EQ(r.code, kExitInput) << r.err;
  EXPECT_THAT(r.err, HasSubstr(output)) << r.err;
  fs::remove(output);
}

TEST_F(CompareAndShow, CompareAndShowCheckTheirOptionsAndTheFile) {
  ASSERT_EQ(run_cli({"run", "--config", config}).code, 0);
  Result r = run_cli({"compare", output, output, "--rtol", "-1"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--rtol must be >= 0"));
  r = run_cli({"show", output, "--precision", "-1"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--precision must be between 0 and 17"));
  // Other models: the results differ (exit 5), as compare's help says.
  ASSERT_EQ(run_cli({"run", "--config", config, "--zoo", "a=" + dir + "/a.pt", "--zoo", "b=" + dir + "/b.pt",
                     "--output.path", dir + "/two.h5"})
                .code,
            0);
  r = run_cli({"compare", output, dir + "/two.h5"});
  EXPECT_EQ(r.code, kExitDifferent);
  EXPECT_THAT(r.out,
              HasSubstr("DIFFERENT models: " + output + " holds [a, a-perm, b], " + dir + "/two.h5 holds [a, b]"));
  // A matrix that does not match the names is a damaged file, for show and eval alike.
  {
    auto f = h5::File::open(dir + "/two.h5", true);
    const std::vector<double> three(3, 0.5);
    h5::write(f.id(), "/distance/short", h5::Type::F64, {3}, three.data());
  }
  r = run_cli({"show", dir + "/two.h5"});
  EXPECT_EQ(r.code, kExitInput);
  EXPECT_THAT(r.err, HasSubstr("/distance/short holds 3 values for 2 models"));
}
