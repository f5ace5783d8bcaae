// `modelgif status` (run/status.hpp): a run's progress from its checkpoint alone.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "modelgif/distance.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "run/lock.hpp"
#include "run/status.hpp"
#include "run/store.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

namespace {

// A checkpoint of 2 models x 2 blocks of 5 references (10 in all): model a
// finished, model b with a partial first block; block 0's pairs cached.
std::string make_run(const std::string& dir, const std::string& name) {
  const std::string out = dir + "/" + name + ".h5";
  const CheckpointStore store(CheckpointStore::dir_for(out));
  Manifest m;
  m.fingerprint = "f00df00df00df00d";
  m.references = 10, m.block = 5, m.blocks = 2, m.steps_kept = 2, m.features = 3;
  m.tuning.max_points = 8;
  const ModelId a{"a", "1111"}, b{"b", "2222"};
  m.models = {{a, "a.pt"}, {b, "b.pt"}};
  m.order = {"a", "b"};
  store.write_manifest(m);
  const at::Tensor f = at::arange(30, at::kFloat).view({5, 2, 3});
  for (int64_t k = 0; k < 2; ++k) {
    FeatureMoments mom(3);
    mom.add(f);
    store.write_shard(shard_id(m.fingerprint, a, k, 5), f, 5, &mom);
  }
  store.write_shard(shard_id(m.fingerprint, b, 0, 5), f, 3, nullptr);
  store.write_sums(SumKind::Plain, 0,
                   PairSums({a, b}, std::vector<double>(static_cast<size_t>(PairSums::kSums) * 4, 1.0)), m.fingerprint);
  return out;
}

}  // namespace

TEST(Status, CountsDonePartialAndCachedBlocksPerModel) {
  const std::string dir = testsupport::temp_dir("status");
  const std::string out = make_run(dir, "run");
  for (const std::string& form : {out, out + ".ckpt", out + ".ckpt/"}) {
    const RunStatus st = read_status(form);
    EXPECT_EQ(st.output, out) << form;
    EXPECT_FALSE(st.output_complete);
    ASSERT_EQ(st.models.size(), 2u);
    EXPECT_EQ(st.models[0].done, 2);
    EXPECT_EQ(st.models[1].done, 0);
    EXPECT_EQ(st.models[1].partial, 1);
    EXPECT_EQ(st.pair_blocks, 1);
    EXPECT_EQ(st.pieces_left(), 2);
  }
  std::ostringstream text;
  print_status(out, text);
  EXPECT_THAT(text.str(), HasSubstr("output not written yet"));
  EXPECT_THAT(text.str(), HasSubstr("fingerprint f00df00df00df00d  (10 references in 2 blocks of 5, max_points 8)"));
  EXPECT_THAT(text.str(), HasSubstr("(1 partial)"));
  EXPECT_THAT(text.str(), HasSubstr("pairs cached for 1/2 blocks"));
  EXPECT_THAT(text.str(), HasSubstr("remaining: 2 (model, block) pieces"));
}

// status reads headers and sizes (fast on any checkpoint); --verify reads the
// data and finds the shard whose bits changed.
TEST(Status, VerifyReadsTheDataAndFindsADamagedShard) {
  const std::string dir = testsupport::temp_dir("status-verify");
  const std::string out = make_run(dir, "run");
  const std::string shard = out + ".ckpt/fields/a/b000001.h5";
  std::fstream file(shard, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const float value = 29.0F;  // the last value of the field
  const size_t at = bytes.find(std::string(reinterpret_cast<const char*>(&value), sizeof value));
  ASSERT_NE(at, std::string::npos);
  file.seekp(static_cast<std::streamoff>(at));
  file.put(static_cast<char>(bytes[at] ^ 0x01));
  file.close();
  EXPECT_EQ(read_status(out).models[0].done, 2);
  const RunStatus verified = read_status(out, true);
  EXPECT_EQ(verified.models[0].done, 1);
  EXPECT_EQ(verified.models[0].corrupt, 1);
  std::ostringstream text, checked;
  print_status(out, text);
  EXPECT_THAT(text.str(), HasSubstr("shards checked by header and size; --verify reads them"));
  print_status(out, checked, true);
  EXPECT_THAT(checked.str(), HasSubstr("(1 corrupt)"));
  EXPECT_THAT(checked.str(), HasSubstr("shards read and checksummed"));
}

TEST(Status, AFolderOfRunsListsEveryRunAndNoCheckpointIsAnInputError) {
  const std::string dir = testsupport::temp_dir("status-folder");
  make_run(dir + "/x", "out");
  make_run(dir + "/y", "out");
  std::ostringstream text;
  print_status(dir, text);
  EXPECT_THAT(text.str(), HasSubstr("run " + dir + "/x/out.h5"));
  EXPECT_THAT(text.str(), HasSubstr("run " + dir + "/y/out.h5"));
  EXPECT_THROW(read_status(dir + "/nothing.h5"), InputError);
  std::ostringstream none;
  EXPECT_THROW(print_status(testsupport::temp_dir("status-empty"), none), InputError);
}

TEST(Status, AFolderWithOneBadManifestListsTheOthersAndSaysHowManyFailed) {
  const std::string dir = testsupport::temp_dir("status-bad");
  make_run(dir + "/x", "out");
  make_run(dir + "/y", "out");
  std::ofstream(dir + "/x/out.h5.ckpt/MANIFEST.h5", std::ios::trunc) << "garbage";
  std::ostringstream text;
  try {
    print_status(dir, text);
    FAIL() << "a damaged manifest went unreported";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("1 of 2 runs under " + dir + " could not be read"));
  }
  EXPECT_THAT(text.str(), HasSubstr("run " + dir + "/x/out.h5: cannot be read: "));
  EXPECT_THAT(text.str(), HasSubstr("run " + dir + "/y/out.h5: output not written yet"));
}

TEST(Status, ACheckpointWithoutItsManifestAndAForeignFileAreToldApart) {
  const std::string dir = testsupport::temp_dir("status-nomanifest");
  const std::string out = make_run(dir, "run");
  std::filesystem::remove(out + ".ckpt/MANIFEST.h5");
  std::ostringstream text;
  print_status(out, text);
  EXPECT_THAT(text.str(), HasSubstr("has no manifest, but holds 3 field shards and 1 pair caches"));
  // Any HDF5 file is not a finished run.
  auto f = h5::File::create(dir + "/other.h5");
  h5::set_attr(f.id(), "/", "x", std::string("y"));
  f.close();
  try {
    read_status(dir + "/other.h5");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr(dir + "/other.h5 is not a modelgif result"));
  }
}

TEST(Status, TemporariesAndTheLockHolderAreShown) {
  const std::string dir = testsupport::temp_dir("status-temp");
  const std::string out = make_run(dir, "run");
  std::ofstream(out + ".tmp-4242") << std::string(2000000, 'x');
  std::ostringstream text;
  print_status(out, text);
  EXPECT_THAT(text.str(), HasSubstr("temporaries 1 (2 MB) left by interrupted runs; the next run removes them"));
  const RunLock lock = RunLock::take(out + ".ckpt");
  // A lock held by this process: open-file-description locks conflict even here.
  EXPECT_THAT(read_status(out).holder, HasSubstr("pid " + std::to_string(::getpid())));
}
