// Fields and pair sums block by block (run/blocks.cpp) in both checkpoint
// modes: checkpoint.fields none gives the results of keep while its
// checkpoint holds only the manifest, the sums and the moments; a grown zoo
// computes its old models' fields again there; in keep mode each shard is
// read at most once per run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "modelgif/result.hpp"
#include "support/cli.hpp"

using ::testing::HasSubstr;
using testsupport::Result;
using testsupport::run_cli;
namespace fs = std::filesystem;

namespace {

class Blocks : public testsupport::TinyZoo {
 protected:
  // The layout pinned: with `auto` each run times both and may choose
  // another, whose fields differ by float32 rounding (seen with LibTorch 2.6).
  Result run(std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", "--config", config, "--run.memory_format", "contiguous"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  }
};

double largest_difference(const std::string& a, const std::string& b) {
  const modelgif::RunResult x = modelgif::read_result(a), y = modelgif::read_result(b);
  double worst = 0;
  for (size_t i = 0; i < x.matrices.size(); ++i)
    for (size_t j = 0; j < x.matrices[i].size(); ++j)
      worst = std::max(worst, std::fabs(x.matrices[i][j] - y.matrices[i][j]));
  return worst;
}

int64_t files_under(const std::string& dir) {
  int64_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    n += it->is_regular_file() ? 1 : 0;
  return n;
}

}  // namespace

TEST_F(Blocks, NoneKeepsOnlySumsAndMomentsAndGivesKeepsResults) {
  const Result keep = run({});
  ASSERT_EQ(keep.code, 0) << keep.err;
  const std::string none_out = dir + "/none/result.h5";
  const Result none = run({"--checkpoint.fields", "none", "--output.path", none_out});
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(largest_difference(none_out, output), 0.0);
  // The result still stores the fields (output.store_fields: true), equal to keep's.
  for (const char* m : {"a", "a-perm", "b"})
    EXPECT_TRUE(modelgif::read_fields(none_out, m).equal(modelgif::read_fields(output, m))) << m;
  // Its checkpoint: the manifest, 3 blocks x 2 kinds of sums, 3 models x 3 blocks of moments, the lock.
  EXPECT_FALSE(fs::exists(none_out + ".ckpt/fields"));
  EXPECT_EQ(files_under(none_out + ".ckpt/pairs"), 6);
  EXPECT_EQ(files_under(none_out + ".ckpt/moments"), 9);
  EXPECT_EQ(files_under(output + ".ckpt/fields"), 9);
  // Run again: nothing to compute, every piece done by its block's sums.
  const Result again =
      run({"--checkpoint.fields", "none", "--output.path", none_out, "--output.store_fields", "false"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("fields: 0 of 9 (model, block) pieces computed, 9 reused")) << again.out;
  EXPECT_THAT(again.out, HasSubstr("pairs: 0 (pair, block) sums computed, 18 reused")) << again.out;
  const Result status = run_cli({"status", none_out});
  EXPECT_THAT(status.out, HasSubstr("checkpoint.fields: none")) << status.out;
  EXPECT_THAT(status.out, HasSubstr("remaining: 0 (model, block) pieces; done")) << status.out;
}

// checkpoint.fields: none keeps no fields: a grown zoo needs its old models'
// fields again for the new pairs, and says so.
TEST_F(Blocks, NoneComputesTheOldModelsOfAGrownZooAgain) {
  const std::vector<std::string> none = {
      "--checkpoint.fields", "none", "--output.store_fields", "false", "--distance.metrics", "cosine,euclidean"};
  std::vector<std::string> two = none;
  for (const char* z : {"a", "b"}) two.insert(two.end(), {"--zoo", std::string(z) + "=" + dir + "/" + z + ".pt"});
  ASSERT_EQ(run(two).code, 0);
  std::vector<std::string> three = none;
  for (const char* z : {"a", "a-perm", "b"})
    three.insert(three.end(), {"--zoo", std::string(z) + "=" + dir + "/" + z + ".pt"});
  const Result grown = run(three);
  ASSERT_EQ(grown.code, 0) << grown.err;
  EXPECT_THAT(grown.out, HasSubstr("fields: 3 of 9 (model, block) pieces computed, 0 reused from the checkpoint, "
                                   "6 computed again (checkpoint.fields: none keeps no fields)"))
      << grown.out;
  EXPECT_THAT(grown.out, HasSubstr("pairs: 6 (pair, block) sums computed, 3 reused")) << grown.out;
  std::vector<std::string> fresh = three;
  fresh.insert(fresh.end(), {"--output.path", dir + "/fresh/result.h5"});
  ASSERT_EQ(run(fresh).code, 0);
  // The cached pair was summed with a stack of two models, the fresh one of three: rounding apart.
  EXPECT_LT(largest_difference(output, dir + "/fresh/result.h5"), 1e-12);
}

// In keep mode a shard is read only when its field is needed, and once.
TEST_F(Blocks, EachShardIsReadAtMostOncePerRun) {
  const std::vector<std::string> plain = {"--output.store_fields", "false"};
  // Computed fields go to the sums from memory; cosine_standardized's second
  // pass (after the moments of every piece) reads each shard once.
  const Result first = run(plain);
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("; 9 shards read")) << first.out;
  const Result no_std = run(
      {"--output.store_fields", "false", "--distance.metrics", "cosine", "--output.path", dir + "/plain/result.h5"});
  ASSERT_EQ(no_std.code, 0) << no_std.err;
  EXPECT_THAT(no_std.out, HasSubstr("; 0 shards read")) << no_std.out;
  // Every sum known: no shard is read.
  const Result cached = run(plain);
  ASSERT_EQ(cached.code, 0) << cached.err;
  EXPECT_THAT(cached.out, HasSubstr("9 reused")) << cached.out;
  EXPECT_THAT(cached.out, HasSubstr("; 0 shards read")) << cached.out;
  // No sums (both kinds, cosine_standardized's second pass included): each shard once.
  fs::remove_all(output + ".ckpt/pairs");
  const Result sums = run(plain);
  ASSERT_EQ(sums.code, 0) << sums.err;
  EXPECT_THAT(sums.out, HasSubstr("; 9 shards read")) << sums.out;
  EXPECT_THAT(sums.out, HasSubstr("pairs: 18 (pair, block) sums computed, 0 reused")) << sums.out;
}
