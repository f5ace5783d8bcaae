// Scenarios of how a run evaluates its models, through the CLI on a tiny
// zoo: the precision fingerprinted and stored, the tuned micro-batch and
// memory format kept for a resumed run, a model that cannot take
// channels-last inputs putting an auto run on contiguous ones.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/models.hpp"

namespace fs = std::filesystem;
using namespace modelgif;
using ::testing::HasSubstr;
using testsupport::Result;
using testsupport::root_attr;
using testsupport::run_cli;

class TunedChoices : public testsupport::TinyZoo {};

// The run: the precision is part of the fingerprint and stored in the output
// with the memory format; a checkpoint of the other precision is refused with
// the difference named, and bfloat16 distances stay near float32 ones.
TEST_F(TunedChoices, ThePrecisionIsFingerprintedAndStored) {
  const Result f32 = run_cli({"run", "--config", config});
  ASSERT_EQ(f32.code, 0) << f32.err;
  EXPECT_EQ(root_attr(output, "precision"), "float32");
  const std::string format = root_attr(output, "memory_format");
  EXPECT_THAT(f32.out, HasSubstr("run.memory_format " + format + " (contiguous ")) << f32.out;
  {
    auto m = h5::File::open(output + ".ckpt/MANIFEST.h5");
    EXPECT_EQ(h5::get_attr_string(m.id(), "/", "memory_format"), format) << "the checkpoint keeps the choice";
  }
  fs::rename(output, dir + "/float32.h5");
  expect_failure({"--run.precision", "bfloat16"}, kExitInput, "run.precision was float32, now bfloat16");
  const Result bf16 = run_cli({"run", "--config", config, "--run.precision", "bfloat16", "--recompute"});
  ASSERT_EQ(bf16.code, 0) << bf16.err;
  EXPECT_THAT(bf16.out, HasSubstr("configuration changed (run.precision was float32, now bfloat16): discarded"));
  EXPECT_EQ(root_attr(output, "precision"), "bfloat16");
  const Result strict = run_cli({"compare", output, dir + "/float32.h5"});
  EXPECT_EQ(strict.code, kExitDifferent) << "bfloat16 changed nothing: " << strict.out;
  const Result near = run_cli({"compare", output, dir + "/float32.h5", "--rtol", "0.05", "--atol", "0.01"});
  EXPECT_EQ(near.code, 0) << near.out;
  // And back: the float32 checkpoint of the first run is gone, its numbers come again.
  const Result again = run_cli({"run", "--config", config, "--recompute"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("run.precision was bfloat16, now float32"));
  EXPECT_EQ(run_cli({"compare", output, dir + "/float32.h5"}).code, 0);
}

// A resumed run uses the memory format and micro-batch bound of the run that
// made the checkpoint, without timing them again.
TEST_F(TunedChoices, AResumedRunKeepsTheTunedChoices) {
  const Result first = run_cli({"run", "--config", config, "--run.max_points", "0"});
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("tuned on model 'a' in float32: run.max_points "));
  const std::string format = root_attr(output, "memory_format");
  auto points = [&] {
    auto f = h5::File::open(output);
    return h5::get_attr_int(f.id(), "/", "max_points");
  };
  const int64_t tuned = points();
  fs::remove(output);
  const Result second = run_cli({"run", "--config", config, "--run.max_points", "0"});
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_THAT(second.out, ::testing::Not(HasSubstr("tuned on"))) << second.out;
  EXPECT_EQ(root_attr(output, "memory_format"), format);
  EXPECT_EQ(points(), tuned);
  // A format given in the config wins; the bound given there too.
  const Result pinned = run_cli({"run", "--config", config, "--run.memory_format", "channels_last"});
  ASSERT_EQ(pinned.code, 0) << pinned.err;
  EXPECT_EQ(root_attr(output, "memory_format"), "channels_last");
  EXPECT_EQ(points(), 10);
}

// A zoo model that cannot take channels-last inputs: named when channels_last
// is asked for; under auto the run goes on contiguous inputs, same numbers.
TEST_F(TunedChoices, AModelWithoutChannelsLastPutsAnAutoRunOnContiguousInputs) {
  testsupport::save_viewer(dir + "/viewer.pt");
  const std::vector<std::string> zoo = {"--zoo", "a=" + dir + "/a.pt", "--zoo", "viewer=" + dir + "/viewer.pt"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), zoo.begin(), zoo.end());
    return args;
  };
  expect_failure(with({"--run.memory_format", "channels_last"}), kExitInput,
                 "model 'viewer' cannot run in float32 with channels-last inputs");
  const Result nchw = run_cli(
      with({"run", "--config", config, "--run.memory_format", "contiguous", "--output.path", dir + "/nchw.h5"}));
  ASSERT_EQ(nchw.code, 0) << nchw.err;
  const Result automatic = run_cli(with({"run", "--config", config}));
  ASSERT_EQ(automatic.code, 0) << automatic.err;
  EXPECT_EQ(root_attr(output, "memory_format"), "contiguous");
  EXPECT_EQ(run_cli({"compare", output, dir + "/nchw.h5"}).code, 0);
  // Alone in the zoo, it is refused when timed.
  const Result alone =
      run_cli({"run", "--config", config, "--zoo", "viewer=" + dir + "/viewer.pt", "--output.path", dir + "/alone.h5"});
  ASSERT_EQ(alone.code, 0) << alone.err;
  EXPECT_THAT(alone.out, HasSubstr("channels_last refused (model 'viewer' cannot run in float32 with channels-last"));
}
