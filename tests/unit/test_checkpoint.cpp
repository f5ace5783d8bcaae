// The checkpoint (run/checkpoint.hpp, run/pair_cache.hpp): the manifest, field
// shards with their checksum and fingerprint, and the per-block pair caches.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "modelgif/config.hpp"
#include "modelgif/distance.hpp"
#include "modelgif/error.hpp"
#include "run/checkpoint.hpp"
#include "run/pair_cache.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

// Flips a bit of the first stored copy of `value` (a float of the field data) in a file.
void flip_float(const std::string& path, float value) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string needle(reinterpret_cast<const char*>(&value), sizeof value);
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos) << "the value is not stored as such in " << path;
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(bytes[at] ^ 0x01));
}

at::Tensor field_of(int64_t rows, int64_t steps, int64_t features, double scale) {
  return at::arange(rows * steps * features, at::kFloat).view({rows, steps, features}) * scale;
}

}  // namespace

TEST(Checkpoint, ManifestRoundTripsEveryField) {
  const Checkpoint ckpt(testsupport::temp_dir("ckpt-manifest") + "/out.h5.ckpt");
  EXPECT_FALSE(ckpt.has_manifest());
  Manifest m;
  m.fingerprint = "0123456789abcdef";
  m.text = "field.steps: 50\n";
  m.config = "zoo: []\n";
  m.references = 130, m.block = 64, m.blocks = 3, m.steps_kept = 50, m.features = 784, m.max_points = 32;
  m.models = {{"a", "aaaa"}, {"b", "bbbb"}};
  m.order = {"b", "a"};
  ckpt.write_manifest(m);
  ASSERT_TRUE(ckpt.has_manifest());
  const Manifest r = ckpt.read_manifest();
  EXPECT_EQ(r.fingerprint, m.fingerprint);
  EXPECT_EQ(r.text, m.text);
  EXPECT_EQ(r.config, m.config);
  EXPECT_EQ(r.references, 130);
  EXPECT_EQ(r.blocks, 3);
  EXPECT_EQ(r.max_points, 32);
  EXPECT_EQ(r.features, 784);
  EXPECT_EQ(r.models, m.models);
  EXPECT_EQ(r.order, m.order);
  // No temporary is left beside it.
  for (const auto& e : fs::directory_iterator(ckpt.dir()))
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr(".tmp-")));
}

TEST(Checkpoint, AGarbledManifestIsAnInputErrorNamingIt) {
  const Checkpoint ckpt(testsupport::temp_dir("ckpt-garbled") + "/x.ckpt");
  fs::create_directories(ckpt.dir());
  std::ofstream(ckpt.dir() + "/MANIFEST.h5") << "not hdf5";
  try {
    ckpt.read_manifest();
    FAIL() << "a garbled manifest was read";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr(ckpt.dir() + "/MANIFEST.h5"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("--recompute"));
  }
}

TEST(Checkpoint, ShardsAreCompletePartialCorruptOrForeign) {
  const Checkpoint ckpt(testsupport::temp_dir("ckpt-shards") + "/out.ckpt");
  const at::Tensor f = field_of(4, 3, 5, 0.5);
  FeatureMoments mom(5);
  mom.add(f);
  EXPECT_EQ(ckpt.probe("m", 0, "fp", 4).kind, ShardStatus::Missing);
  ckpt.write_field("m", 0, "fp", f, 4, 4, &mom);
  ShardStatus st = ckpt.probe("m", 0, "fp", 4);
  EXPECT_EQ(st.kind, ShardStatus::Complete);
  EXPECT_EQ(st.completed, 4);
  FeatureMoments back;
  EXPECT_TRUE(at::equal(ckpt.read_field("m", 0, &back), f));
  EXPECT_EQ(back.raw(), mom.raw());
  EXPECT_EQ(ckpt.read_moments("m", 0, 5).raw(), mom.raw());
  // Another run's shard.
  st = ckpt.probe("m", 0, "other", 4);
  EXPECT_EQ(st.kind, ShardStatus::Mismatch);
  EXPECT_THAT(st.reason, HasSubstr("other"));
  // A partial shard: its finished rows only.
  ckpt.write_field("m", 1, "fp", f, 2, 4, nullptr);
  st = ckpt.probe("m", 1, "fp", 4);
  EXPECT_EQ(st.kind, ShardStatus::Partial);
  EXPECT_EQ(st.completed, 2);
  EXPECT_TRUE(at::equal(ckpt.read_field("m", 1), f.slice(0, 0, 2)));
  // A different block size.
  EXPECT_EQ(ckpt.probe("m", 0, "fp", 5).kind, ShardStatus::Corrupt);
  // One flipped bit in the field data: the checksum fails.
  flip_float(ckpt.field_path("m", 0), 29.5F);
  st = ckpt.probe("m", 0, "fp", 4);
  EXPECT_EQ(st.kind, ShardStatus::Corrupt);
  EXPECT_THAT(st.reason, HasSubstr("checksum"));
  // A truncated file is unreadable.
  fs::resize_file(ckpt.field_path("m", 1), 100);
  st = ckpt.probe("m", 1, "fp", 4);
  EXPECT_EQ(st.kind, ShardStatus::Corrupt);
  EXPECT_THAT(st.reason, HasSubstr("unreadable"));
  EXPECT_TRUE(ckpt.holds_work());
  EXPECT_TRUE(ckpt.holds_work("m"));
  EXPECT_FALSE(ckpt.holds_work("n"));
  ckpt.remove_model("m");
  EXPECT_FALSE(ckpt.holds_work("m"));
}

TEST(Checkpoint, ShardFingerprintsDependOnRunModelAndBlock) {
  const std::string a = shard_fingerprint("run", "m@1", 0);
  EXPECT_NE(a, shard_fingerprint("run2", "m@1", 0));
  EXPECT_NE(a, shard_fingerprint("run", "m@2", 0));
  EXPECT_NE(a, shard_fingerprint("run", "m@1", 1));
  EXPECT_EQ(a, shard_fingerprint("run", "m@1", 0));
  EXPECT_EQ(a.size(), 16u);
}

TEST(Checkpoint, FingerprintTextCoversFieldReferencesBlockAndData) {
  const char* yaml = "zoo: [{name: a, path: a.pt}]\nreferences: {source: r.h5:/x}\n";
  const RunConfig c = load_config(yaml, "t");
  const std::string text = fingerprint_text(c, "datahash");
  for (const char* key : {"field.steps: 50", "field.method: gausslegendre", "references.source: r.h5:/x",
                          "run.block: 64", "references.data_hash: datahash"})
    EXPECT_THAT(text, HasSubstr(key));
  EXPECT_NE(text, fingerprint_text(load_config(yaml, "t", {{"field.steps", "20"}}), "datahash"));
  // Keys outside field.*, references.* and run.block do not change what shards hold.
  EXPECT_EQ(text,
            fingerprint_text(load_config(yaml, "t", {{"run.threads", "3"}, {"output.path", "x.h5"}}), "datahash"));
}

TEST(PairCache, RoundTripsIsKeyedByFingerprintAndSaysWhichPairsItCovers) {
  const Checkpoint ckpt(testsupport::temp_dir("ckpt-pairs") + "/out.ckpt");
  EXPECT_TRUE(read_pair_cache(ckpt, "plain", 0, "fp").keys.empty());
  PairCache c;
  c.keys = {"a@1", "b@2"};
  c.sums.assign(static_cast<size_t>(DistanceAccumulator::kSums) * 4, 0.0);
  for (size_t i = 0; i < c.sums.size(); ++i) c.sums[i] = static_cast<double>(i);
  c.sums[(DistanceAccumulator::kRows * 2 + 0) * 2 + 1] = 5;  // rows of (a, b)
  c.sums[(DistanceAccumulator::kRows * 2 + 1) * 2 + 0] = 0;  // (b, a) never computed
  write_pair_cache(ckpt, "plain", 0, c, "fp");
  EXPECT_EQ(pair_cache_path(ckpt, "plain", 0), ckpt.dir() + "/pairs/plain-b0.h5");
  const PairCache r = read_pair_cache(ckpt, "plain", 0, "fp");
  EXPECT_EQ(r.keys, c.keys);
  EXPECT_EQ(r.sums, c.sums);
  EXPECT_TRUE(r.covers(0, 1));
  EXPECT_FALSE(r.covers(1, 0));
  EXPECT_EQ(r.index().at("b@2"), 1u);
  EXPECT_TRUE(read_pair_cache(ckpt, "plain", 0, "another run").keys.empty());
  EXPECT_TRUE(read_pair_cache(ckpt, "standardized", 0, "fp").keys.empty());
}

TEST(Checkpoint, AManifestWithAFlippedBitIsRefused) {
  const Checkpoint ckpt(testsupport::temp_dir("ckpt-manifest-flip") + "/out.h5.ckpt");
  Manifest m;
  m.fingerprint = "0123456789abcdef";
  m.text = "field.steps: 50\n";
  m.max_points = 32;
  m.models = {{"a", "aaaa"}};
  m.paths = {{"a", "zoo/a.pt"}};
  m.order = {"a"};
  ckpt.write_manifest(m);
  EXPECT_EQ(ckpt.read_manifest().paths.at("a"), "zoo/a.pt");
  // A model's path, held as data (not in HDF5's checksummed headers), changes on disk.
  const std::string path = ckpt.dir() + "/MANIFEST.h5";
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const size_t at = bytes.find("zoo/a.pt");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 4] = 'b';
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  try {
    ckpt.read_manifest();
    FAIL() << "a damaged manifest was trusted";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("is damaged (checksum mismatch)"));
  }
}
