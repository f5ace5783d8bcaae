// Rank 0's progress report (run/progress.hpp): counted from the checkpoint's
// shards; plain lines in a batch log.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "run/progress.hpp"
#include "run/store.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

namespace {

// A SLURM batch job: plain lines even when stdout is a terminal.
struct BatchJob {
  BatchJob() { setenv("SLURM_JOB_ID", "1", 1), unsetenv("SLURM_PTY_PORT"); }
  ~BatchJob() { unsetenv("SLURM_JOB_ID"); }
};

}  // namespace

TEST(Progress, BatchLogsGetPlainLinesCountedFromTheShards) {
  const BatchJob batch;
  const CheckpointStore store(testsupport::temp_dir("progress") + "/out.ckpt");
  std::ostringstream log;
  // An interval long enough that two ticks in a row fall within it on a
  // loaded machine too.
  Progress p([&] { return store.count_files().shards; }, 4, 100, 0.5, log, true);
  store.write_shard(shard_id("fp", {"m", "1"}, 0, 1), at::zeros({1, 1, 1}), 1, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  p.tick();
  EXPECT_THAT(log.str(), HasSubstr("progress: 1/4 pieces, "));
  EXPECT_THAT(log.str(), HasSubstr(" points/s"));
  EXPECT_THAT(log.str(), HasSubstr(" elapsed)\n"));
  EXPECT_EQ(log.str().find('\r'), std::string::npos) << "a batch log got a carriage-return bar";
  const std::string before = log.str();
  p.tick();  // within the interval: nothing
  EXPECT_EQ(log.str(), before);
  p.finish();  // a batch log gets no final bar
  EXPECT_EQ(log.str(), before);
}

TEST(Progress, DisabledOnOtherRanksPrintsNothing) {
  const CheckpointStore store(testsupport::temp_dir("progress-off") + "/out.ckpt");
  std::ostringstream log;
  Progress p([&] { return store.count_files().shards; }, 4, 100, 0.001, log, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  p.tick();
  p.finish();
  EXPECT_TRUE(log.str().empty());
}

// Launchers whose ranks' standard output is a pseudo-terminal even when it
// ends in a file; srun --pty is the user's terminal.
TEST(Progress, LaunchersMeanALog) {
  for (const char* var : {"SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) unsetenv(var);
  unsetenv("SLURM_PTY_PORT");
  EXPECT_FALSE(launched_to_a_log());
  for (const char* var : {"SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    setenv(var, "1", 1);
    EXPECT_TRUE(launched_to_a_log()) << var;
    setenv("SLURM_PTY_PORT", "4242", 1);
    EXPECT_FALSE(launched_to_a_log()) << var << " under srun --pty";
    unsetenv("SLURM_PTY_PORT");
    unsetenv(var);
  }
}
