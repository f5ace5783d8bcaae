// `modelgif run --report FILE`: what one start of a run finished, which the
// SLURM batch script reads to decide whether to requeue the job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "modelgif/error.hpp"
#include "run/signals.hpp"
#include "support/cli.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using testsupport::run_cli;
using testsupport::TinyZoo;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RunReport : public TinyZoo {};

}  // namespace

TEST_F(RunReport, SaysWhatEachStartFinished) {
  // A start stopped by a signal before its field phase finishes nothing: in a
  // child process, where the stop request cannot reach the other tests. The
  // child runs this test again up to EXPECT_EXIT (a fresh zoo of its own) and
  // writes its report where the parent reads it (named in the environment).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const char* inherited = std::getenv("MODELGIF_TEST_REPORT");
  const std::string report = inherited ? inherited : dir + "/start.report";
  setenv("MODELGIF_TEST_REPORT", report.c_str(), 0);
  EXPECT_EXIT(
      {
        signals::install();
        std::raise(SIGUSR1);
        std::_Exit(run_cli({"run", "--config", config, "--report", report}).code);
      },
      ::testing::ExitedWithCode(kExitCheckpointed), "");
  const std::string idle = read(report);
  EXPECT_THAT(idle, HasSubstr("state: stopped\nprogress: false\n")) << idle;
  EXPECT_THAT(idle, HasSubstr("summary: finished 0 (model, block) pieces (0 model-references) and 0 pair blocks; "
                              "done 0 of 9 pieces, 0 of 6 pair blocks; 9 pieces and 6 pair blocks remain"))
      << idle;
  // The next start does everything.
  const auto done = run_cli({"run", "--config", config, "--report", report});
  ASSERT_EQ(done.code, 0) << done.err;
  const std::string full = read(report);
  EXPECT_THAT(full, HasSubstr("state: complete\nprogress: true\n")) << full;
  EXPECT_THAT(full, HasSubstr("finished 9 (model, block) pieces (21 model-references) and 6 pair blocks")) << full;
  for (const char* line : {"pieces_done: 9\npieces_total: 9\n", "rows_done: 21\nrows_total: 21\n",
                           "pair_blocks_done: 6\npair_blocks_total: 6\n"})
    EXPECT_THAT(full, HasSubstr(line)) << full;
  // A refused start says so, and finished nothing.
  const auto bad = run_cli({"run", "--config", config, "--report", report, "--field.steps", "7"});
  EXPECT_EQ(bad.code, kExitInput) << bad.err;
  EXPECT_THAT(read(report), HasSubstr("state: failed\nprogress: false\n")) << read(report);
  unsetenv("MODELGIF_TEST_REPORT");
}
