// Scenarios of what a run leaves beside its result, through the CLI on a
// tiny zoo: the pictures (unless told not to), show's formats with every
// digit, and a warning for a model whose field is tiny.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "modelgif/error.hpp"
#include "modelgif/result.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using testsupport::parse_svg;
using testsupport::read_text;
using testsupport::Result;
using testsupport::run_cli;
using testsupport::Svg;

class RunOutputs : public testsupport::TinyZoo {};

TEST_F(RunOutputs, EveryRunLeavesPicturesUnlessToldNot) {
  const Result r = run_cli({"run", "--config", config});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string stem = dir + "/out/result";
  for (const char* metric : {"cosine", "euclidean", "cosine_frechet", "euclidean_frechet", "cosine_standardized"})
    for (const char* kind : {"-heatmap-", "-tree-"}) {
      const std::string path = stem + kind + metric + ".svg";
      EXPECT_THAT(r.out, HasSubstr(path)) << r.out;
      EXPECT_EQ(parse_svg(read_text(path)).count.at("svg"), 1) << path;
    }
  // output.pictures false: none.
  const Result off =
      run_cli({"run", "--config", config, "--output.pictures", "false", "--output.path", dir + "/quiet/result.h5"});
  ASSERT_EQ(off.code, 0) << off.err;
  EXPECT_THAT(off.out, ::testing::Not(HasSubstr("pictures:")));
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/quiet")) files += e.path().extension() == ".svg";
  EXPECT_EQ(files, 0u);
  // show --pictures DIR --order zoo --png: into the folder, zoo order, PNG too.
  const Result show =
      run_cli({"show", output, "--metric", "cosine", "--pictures", dir + "/pics", "--order", "zoo", "--png"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr(dir + "/pics/result-heatmap-cosine.png"));
  const Svg heat = parse_svg(read_text(dir + "/pics/result-heatmap-cosine.svg"));
  EXPECT_EQ(heat.texts[1], "a");
  EXPECT_THAT(heat.texts.back(), HasSubstr("zoo order"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/pics/result-tree-cosine.png"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/pics/result-heatmap-euclidean.svg"));  // --metric cosine only
  // Bad values name the option.
  EXPECT_THAT(run_cli({"show", output, "--pictures", "--order", "size"}).err,
              HasSubstr("--order: expected tree or zoo"));
  EXPECT_THAT(run_cli({"show", output, "--format", "xml"}).err,
              HasSubstr("--format must be table, csv, json or markdown"));
}

TEST_F(RunOutputs, ShowFormatsCarryEveryDigitForScripts) {
  ASSERT_EQ(run_cli({"run", "--config", config}).code, 0);
  const RunResult r = read_result(output);
  // CSV: metric,a,b,distance with %.17g: parsing gives the stored doubles back exactly.
  const Result csv = run_cli({"show", output, "--format", "csv"});
  ASSERT_EQ(csv.code, 0) << csv.err;
  std::istringstream lines(csv.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "metric,model_a,model_b,distance");
  size_t rows = 0;
  const size_t M = r.names.size();
  for (; std::getline(lines, line); ++rows) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 4u) << line;
    const size_t i = static_cast<size_t>(std::find(r.metrics.begin(), r.metrics.end(), f[0]) - r.metrics.begin());
    const size_t a = static_cast<size_t>(std::find(r.names.begin(), r.names.end(), f[1]) - r.names.begin());
    const size_t b = static_cast<size_t>(std::find(r.names.begin(), r.names.end(), f[2]) - r.names.begin());
    ASSERT_LT(i, r.metrics.size());
    ASSERT_LT(a, M);
    ASSERT_LT(b, M);
    EXPECT_EQ(std::stod(f[3]), r.matrices[i][a * M + b]) << line;
  }
  EXPECT_EQ(rows, r.metrics.size() * M * M);
  // JSON: the models and one M x M array per metric.
  const Result json = run_cli({"show", output, "--format", "json", "--metric", "cosine"});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("{\"models\": [\"a\", \"a-perm\", \"b\"], \"metrics\": {\"cosine\": [[0, "));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", r.matrices[0][2]);
  EXPECT_THAT(json.out, HasSubstr(buf));
  // Markdown: a header, a rule and one row per model, per metric.
  const Result md = run_cli({"show", output, "--format", "markdown", "--metric", "euclidean", "--precision", "3"});
  ASSERT_EQ(md.code, 0) << md.err;
  EXPECT_THAT(md.out, HasSubstr("**euclidean distance**\n\n| | a | a-perm | b |\n|---|---:|---:|---:|\n| a | 0.000 |"));
  EXPECT_EQ(std::count(md.out.begin(), md.out.end(), '\n'), 2 + 2 + static_cast<long>(M));
}

TEST_F(RunOutputs, AModelWhoseFieldIsTinyIsWarnedAboutOnStderr) {
  auto tiny = testsupport::linear_model(at::full({1, 8, 8}, 1e-9));
  tiny.save(dir + "/tiny.pt");
  ::testing::internal::CaptureStderr();
  const Result r = run_cli({"run", "--config", config, "--zoo", "a=" + dir + "/a.pt", "--zoo",
                            "tiny=" + dir + "/tiny.pt", "--output.path", dir + "/tiny/result.h5"});
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(err, HasSubstr("warning: model 'tiny': its field rows are tiny (median norm"));
  EXPECT_THAT(err, HasSubstr("PyTorch's cosine_similarity"));
  EXPECT_THAT(err, ::testing::Not(HasSubstr("model 'a'")));
}
