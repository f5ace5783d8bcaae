#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "analysis/sweep.hpp"
#include "modelgif/cli.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/result.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

// A base config over two tiny models and a sweep file beside it.
struct SweepFiles {
  std::string dir, base, sweep;
  explicit SweepFiles(const std::string& name, const std::string& body) {
    dir = testsupport::temp_dir(name);
    testsupport::tanh_cnn(1).save(dir + "/a.pt");
    testsupport::tanh_cnn(2).save(dir + "/b.pt");
    testsupport::write_random_refs(dir + "/refs.h5", 4);
    base = dir + "/base.yaml";
    std::ofstream(base) << "zoo: [{name: a, path: " << dir << "/a.pt}, {name: b, path: " << dir << "/b.pt}]\n"
                        << "references: {source: " << dir << "/refs.h5:/images}\n"
                        << "field: {steps: 4}\ndistance: {metrics: [cosine, euclidean]}\n";
    sweep = dir + "/sweep.yaml";
    std::ofstream(sweep) << "sweep: {name: s, base: " << base << ", dir: " << dir << "/runs}\n" << body;
  }
};

std::string usage_error(const std::string& path) {
  try {
    load_sweep(path);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Sweep, VariationsAndGridsExpandIntoRunConfigs) {
  SweepFiles f("sweep-expand",
               "variations:\n  - {name: short, set: {field.steps: 2}}\n"
               "grid:\n  field.baseline: [zeros, 'constant:0.5']\n  field.keep_steps: [all, last_half]\n");
  const Sweep s = load_sweep(f.sweep);
  ASSERT_EQ(s.variations.size(), 5u);
  EXPECT_EQ(s.variations[0].name, "short");
  EXPECT_EQ(s.variations[0].config.field.steps, 2);
  EXPECT_EQ(s.variations[1].name, "baseline=zeros+keep_steps=all");
  EXPECT_EQ(s.variations[4].name, "baseline=constant_0.5+keep_steps=last_half");
  EXPECT_EQ(s.variations[4].config.baseline.kind, BaselineConfig::Kind::Constant);
  EXPECT_EQ(s.variations[4].config.field.kept, KeptSteps::LastHalf);
  EXPECT_EQ(s.variations[2].config.output_path, f.dir + "/runs/baseline=zeros+keep_steps=last_half/out.h5");
  for (const auto& v : s.variations) EXPECT_FALSE(v.complete());
}

TEST(Sweep, BadSweepFilesNameTheVariationAndKey) {
  SweepFiles f("sweep-bad", "variations:\n  - {name: x, set: {field.stpes: 2}}\n");
  const std::string e = usage_error(f.sweep);
  EXPECT_THAT(e, HasSubstr("variation 'x'")) << e;
  EXPECT_THAT(e, HasSubstr("field.steps")) << e;
  std::ofstream(f.sweep) << "sweep: {base: " << f.base
                         << "}\nvariations:\n  - {name: x, set: {}}\n  - {name: x, set: {}}\n";
  EXPECT_THAT(usage_error(f.sweep), HasSubstr("'x' appears twice"));
  std::ofstream(f.sweep) << "sweep: {base: " << f.base << "}\n";
  EXPECT_THAT(usage_error(f.sweep), HasSubstr("no variations"));
  std::ofstream(f.sweep) << "sweep: {base: " << f.base << ", nmae: x}\ngrid: {field.steps: [1]}\n";
  EXPECT_THAT(usage_error(f.sweep), HasSubstr("unknown key 'sweep.nmae'"));
  std::ofstream(f.sweep) << "variations:\n  - {name: x, set: {}}\n";
  EXPECT_THAT(usage_error(f.sweep), HasSubstr("sweep.base"));
  // A variation is a folder below the sweep's: never the sweep's own, never above it.
  for (const char* name : {"..", ".", "../x", "a b"}) {
    std::ofstream(f.sweep) << "sweep: {base: " << f.base << "}\nvariations:\n  - {name: '" << name << "', set: {}}\n";
    EXPECT_THAT(usage_error(f.sweep),
                HasSubstr("variation name '" + std::string(name) + "' must be a plain folder name"));
  }
  // A bad value in a variation's set names the variation and the set.
  std::ofstream(f.sweep) << "sweep: {base: " << f.base << "}\nvariations:\n  - {name: x, set: {field.steps: 0}}\n";
  EXPECT_THAT(usage_error(f.sweep), HasSubstr("variation 'x': its set: key 'field.steps': must be >= 1, got 0"));
}

// The summary's CSV comes from the one CSV writer that `show --format csv`
// uses: names with commas or quotes are quoted, every digit is kept.
TEST(Sweep, SummaryCsvQuotesNamesAndKeepsEveryDigit) {
  SweepFiles f("sweep-csv", "variations:\n  - {name: two, set: {field.steps: 2}}\n");
  std::ofstream(f.base) << "zoo: [{name: 'a,1', path: " << f.dir << "/a.pt}, {name: 'b\"2', path: " << f.dir
                        << "/b.pt}]\nreferences: {source: " << f.dir << "/refs.h5:/images}\n"
                        << "field: {steps: 4}\ndistance: {metrics: [cosine]}\n";
  const Sweep s = load_sweep(f.sweep);
  write_variation_configs(s);
  std::ostringstream out, err;
  ASSERT_EQ(cli::run({"run", "--config", s.variations[0].config_path()}, out, err), 0) << err.str();
  const SweepSummary sum = collect_sweep(s);
  const RunResult r = read_result(s.variations[0].config.output_path);
  const std::string want = "two,field.steps=2,cosine,\"a,1\",\"b\"\"2\",";
  const auto at = sum.csv.find(want);
  ASSERT_NE(at, std::string::npos) << sum.csv;
  const std::string value = sum.csv.substr(at + want.size(), sum.csv.find('\n', at) - at - want.size());
  EXPECT_EQ(std::stod(value), r.matrices[0][1]) << value;  // %.17g reads back exactly
  EXPECT_GT(value.size(), 12u) << value;
}

TEST(Sweep, CollectGathersCompleteVariationsAndListSkipsThem) {
  SweepFiles f("sweep-collect", "grid:\n  field.steps: [2, 3, 4]\n");
  const Sweep s = load_sweep(f.sweep);
  write_variation_configs(s);
  // Run two of the three variations from their written run.yaml, as the array tasks do.
  for (int i : {0, 2}) {
    std::ostringstream out, err;
    ASSERT_EQ(cli::run({"run", "--config", s.variations[static_cast<size_t>(i)].config_path()}, out, err), 0)
        << err.str();
  }
  EXPECT_TRUE(s.variations[0].complete());
  EXPECT_FALSE(s.variations[1].complete());
  const SweepSummary sum = collect_sweep(s);
  EXPECT_EQ(sum.complete, 2);
  EXPECT_THAT(sum.table, HasSubstr("2 of 3 variations complete")) << sum.table;
  const auto line = sum.table.find("steps=3 ");
  ASSERT_NE(line, std::string::npos) << sum.table;
  EXPECT_THAT(sum.table.substr(line, sum.table.find('\n', line) - line), HasSubstr("(missing)")) << sum.table;
  // CSV: one row per variation, metric and pair: 2 variations x 2 metrics x 1 pair.
  EXPECT_EQ(std::count(sum.csv.begin(), sum.csv.end(), '\n'), 1 + 4) << sum.csv;
  EXPECT_THAT(sum.csv, HasSubstr("steps=2,field.steps=2,cosine,a,b,")) << sum.csv;
  auto h = h5::File::open(f.dir + "/runs/summary.h5");
  EXPECT_EQ(h5::read_strings(h.id(), "/variations/state"),
            (std::vector<std::string>{"complete", "missing", "complete"}));
  EXPECT_EQ(h5::dims(h.id(), "/runs/steps=4/distance/cosine"), (std::vector<hsize_t>{2, 2}));
  // What is left, and the array's list of configs.
  const auto pending = pending_variations(s);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]->name, "steps=3");
  write_pending_list(s, pending);
  std::ifstream list(pending_list_path(s));
  std::string first;
  std::getline(list, first);
  EXPECT_EQ(first, s.variations[1].config_path());
  EXPECT_EQ(sweep_listing(s), "complete  steps=2  " + s.variations[0].config.output_path + "\npending   steps=3  " +
                                  s.variations[1].config.output_path + "\ncomplete  steps=4  " +
                                  s.variations[2].config.output_path + "\n");
  // `sweep list` and a dry-run submission see what is left.
  std::ostringstream out, err;
  ASSERT_EQ(cli::run({"sweep", "list", f.sweep}, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("complete  steps=2")) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("pending   steps=3")) << out.str();
  std::ostringstream dry, derr;
  ASSERT_EQ(cli::run({"sweep", "submit", f.sweep, "--dry-run", "--time", "0:05:00"}, dry, derr), 0) << derr.str();
  EXPECT_THAT(dry.str(), HasSubstr("2 already complete (skipped), 1 to run")) << dry.str();
  EXPECT_THAT(dry.str(), HasSubstr("--array=0-0")) << dry.str();
  EXPECT_THAT(dry.str(), HasSubstr("--dependency=afterany:<array job>")) << dry.str();
}

TEST(Submit, DryRunDerivesResourcesFromTheConfig) {
  SweepFiles f("submit-dry", "grid: {field.steps: [2]}\n");
  std::ostringstream out, err;
  ASSERT_EQ(
      cli::run({"submit", f.base, "--dry-run", "--partition", "gpu", "--account", "lab", "--time", "2:00:00", "--",
                "--run.device", "cuda", "--run.threads", "6", "--run.block", "2", "--references.count", "8"},
               out, err),
      0)
      << err.str();
  const std::string s = out.str();
  for (const char* want :
       {"--ntasks-per-node=4", "--gpus-per-task=1", "--cpus-per-task=6", "--partition=gpu", "--account=lab",
        "--time=2:00:00", "--signal=B:USR1@120", "--requeue", "--max-idle-starts 2", "-- --config"})
    EXPECT_THAT(s, HasSubstr(want)) << want << " in " << s;
  EXPECT_FALSE(fs::exists(f.dir + "/runs"));  // a dry run writes nothing
  std::ostringstream bad, berr;
  EXPECT_EQ(cli::run({"submit", f.base, "--dry-run", "--", "--field.steps", "zero"}, bad, berr), kExitUsage);
  EXPECT_THAT(berr.str(), HasSubstr("field.steps")) << berr.str();
  // The run options are parsed as `run` parses them: --key=value too.
  std::ostringstream eq, eqerr;
  ASSERT_EQ(cli::run({"submit", f.base, "--dry-run", "--", "--field.steps=7"}, eq, eqerr), 0) << eqerr.str();
  EXPECT_THAT(eq.str(), HasSubstr("--field.steps=7"));
  EXPECT_EQ(cli::run({"submit", f.base, "--dry-run", "--", "--field.steps=0"}, eq, eqerr), kExitUsage);
}

TEST(Submit, ResourcesThatSlurmOrTheScriptWouldRefuseAreRefusedNow) {
  SweepFiles f("submit-bad", "grid: {field.steps: [2]}\n");
  for (const auto& [args, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--launcher", "foo"}, "--launcher: expected auto, srun or mpirun, got 'foo'"},
           {{"--signal-seconds", "-5"}, "--signal-seconds: must be >= 1, got -5"},
           {{"--nodes", "0"}, "--nodes: must be >= 1, got 0"},
           {{"--time", "soon"}, "--time: expected minutes"},
           {{"--time", "0"}, "--time: expected minutes"},
           {{"--max-idle-starts", "0"}, "--max-idle-starts: must be >= 1, got 0"},
           {{"--sbatch", "qos=long"}, "--sbatch: expected an sbatch option"}}) {
    std::vector<std::string> cmd = {"submit", f.base, "--dry-run"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    std::ostringstream out, err;
    EXPECT_EQ(cli::run(cmd, out, err), kExitUsage) << args[0];
    EXPECT_THAT(err.str(), HasSubstr(needle));
  }
}
