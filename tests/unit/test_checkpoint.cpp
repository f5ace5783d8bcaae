// The checkpoint's one owner (run/store.hpp): the manifest, field shards with
// their checksum and fingerprint, moments, and the per-block pair sums
// (run/pair_sums.hpp).
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "modelgif/config.hpp"
#include "modelgif/distance.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "run/pair_sums.hpp"
#include "run/store.hpp"
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

Manifest manifest() {
  Manifest m;
  m.fingerprint = "0123456789abcdef";
  m.text = "field.steps: 50\n";
  m.config = "zoo: []\n";
  m.references = 130, m.block = 64, m.blocks = 3, m.steps_kept = 50, m.features = 784;
  m.tuning = {32, at::MemoryFormat::ChannelsLast};
  m.fields = CheckpointFields::None;
  m.models = {{{"a", "aaaa"}, "zoo/a.pt"}, {{"b", "bbbb"}, "zoo/b.pt"}};
  m.order = {"b", "a"};
  return m;
}

}  // namespace

TEST(CheckpointStore, ManifestRoundTripsEveryField) {
  const CheckpointStore store(testsupport::temp_dir("ckpt-manifest") + "/out.h5.ckpt");
  EXPECT_FALSE(store.has_manifest());
  const Manifest m = manifest();
  store.write_manifest(m);
  ASSERT_TRUE(store.has_manifest());
  const Manifest r = store.read_manifest();
  EXPECT_EQ(r.fingerprint, m.fingerprint);
  EXPECT_EQ(r.text, m.text);
  EXPECT_EQ(r.config, m.config);
  EXPECT_EQ(r.references, 130);
  EXPECT_EQ(r.blocks, 3);
  EXPECT_EQ(r.tuning.max_points, 32);
  EXPECT_EQ(r.tuning.format, at::MemoryFormat::ChannelsLast);
  EXPECT_EQ(r.fields, CheckpointFields::None);
  EXPECT_EQ(r.features, 784);
  ASSERT_EQ(r.models.size(), 2u);
  EXPECT_EQ(r.models[1].id, (ModelId{"b", "bbbb"}));
  EXPECT_EQ(r.find("a")->path, "zoo/a.pt");
  EXPECT_EQ(r.order, m.order);
  // No temporary is left beside it.
  for (const auto& e : fs::directory_iterator(store.dir()))
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr(".tmp-")));
}

TEST(CheckpointStore, AGarbledManifestIsAnInputErrorNamingIt) {
  const CheckpointStore store(testsupport::temp_dir("ckpt-garbled") + "/x.ckpt");
  fs::create_directories(store.dir());
  std::ofstream(store.dir() + "/MANIFEST.h5") << "not hdf5";
  try {
    store.read_manifest();
    FAIL() << "a garbled manifest was read";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr(store.dir() + "/MANIFEST.h5"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("--recompute"));
  }
}

// A checkpoint of another format (here: one without its format attribute, as
// every checkpoint before format 2) is refused with one line to start again.
TEST(CheckpointStore, ACheckpointOfAnotherFormatIsRefused) {
  const CheckpointStore store(testsupport::temp_dir("ckpt-format") + "/x.ckpt");
  fs::create_directories(store.dir());
  {
    auto f = h5::File::create(store.dir() + "/MANIFEST.h5");
    h5::set_attr(f.id(), "/", "fingerprint", std::string("0123456789abcdef"));
    f.close();
  }
  try {
    store.read_manifest();
    FAIL() << "an old checkpoint was read";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("was made by another modelgif (checkpoint format 1, this one reads " +
                                                 std::to_string(kCheckpointFormat) + "); rerun with --recompute"));
  }
}

TEST(CheckpointStore, ShardsAreCompletePartialCorruptOrForeign) {
  const CheckpointStore store(testsupport::temp_dir("ckpt-shards") + "/out.ckpt");
  const at::Tensor f = field_of(4, 3, 5, 0.5);
  FeatureMoments mom(5);
  mom.add(f);
  const ModelId m{"m", "1234"};
  const ShardId s0 = shard_id("fp", m, 0, 4), s1 = shard_id("fp", m, 1, 4);
  EXPECT_EQ(store.probe(s0, true).kind, ShardStatus::Missing);
  store.write_shard(s0, f, 4, &mom);
  ShardStatus st = store.probe(s0, true);
  EXPECT_EQ(st.kind, ShardStatus::Complete);
  EXPECT_EQ(st.completed, 4);
  FeatureMoments back;
  EXPECT_TRUE(at::equal(store.read_shard(s0, &back), f));
  EXPECT_EQ(back.raw(), mom.raw());
  EXPECT_EQ(store.read_moments(s0, 5)->raw(), mom.raw());
  EXPECT_DOUBLE_EQ(store.shard_peak(s0), f.abs().max().item<double>());
  // Another run's shard.
  st = store.probe(shard_id("other", m, 0, 4), true);
  EXPECT_EQ(st.kind, ShardStatus::Mismatch);
  EXPECT_THAT(st.reason, HasSubstr("is not this run's"));
  // A partial shard: its finished rows only.
  store.write_shard(s1, f, 2, nullptr);
  st = store.probe(s1, true);
  EXPECT_EQ(st.kind, ShardStatus::Partial);
  EXPECT_EQ(st.completed, 2);
  EXPECT_TRUE(at::equal(store.read_partial(s1), f.slice(0, 0, 2)));
  EXPECT_THROW(store.read_shard(s1), InputError);  // not complete
  // A different block size.
  EXPECT_EQ(store.probe(shard_id("fp", m, 0, 5), true).kind, ShardStatus::Corrupt);
  // One flipped bit in the field data: the header alone looks fine, the
  // checksum fails when the data is read (status --verify, or its use).
  flip_float(store.shard_path("m", 0), 29.5F);
  EXPECT_EQ(store.probe(s0, false).kind, ShardStatus::Complete);
  st = store.probe(s0, true);
  EXPECT_EQ(st.kind, ShardStatus::Corrupt);
  EXPECT_THAT(st.reason, HasSubstr("checksum"));
  try {
    store.read_shard(s0);
    FAIL() << "a damaged shard was read";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr(store.shard_path("m", 0) + " cannot be used: checksum mismatch"));
  }
  // A truncated file is unreadable.
  fs::resize_file(store.shard_path("m", 1), 100);
  st = store.probe(s1, false);
  EXPECT_EQ(st.kind, ShardStatus::Corrupt);
  EXPECT_THAT(st.reason, HasSubstr("unreadable"));
  EXPECT_TRUE(store.holds_work());
  EXPECT_TRUE(store.holds_work("m"));
  EXPECT_FALSE(store.holds_work("n"));
  store.remove_model("m");
  EXPECT_FALSE(store.holds_work("m"));
}

TEST(CheckpointStore, MomentsAloneForAPieceWhoseFieldIsNotKept) {
  const CheckpointStore store(testsupport::temp_dir("ckpt-moments") + "/out.ckpt");
  FeatureMoments mom(5);
  mom.add(field_of(4, 3, 5, 0.25));
  const ShardId s = shard_id("fp", {"m", "1"}, 2, 4);
  EXPECT_FALSE(store.read_moments(s, 5));
  store.write_moments(s, mom);
  EXPECT_EQ(store.read_moments(s, 5)->raw(), mom.raw());
  EXPECT_FALSE(store.read_moments(shard_id("other", {"m", "1"}, 2, 4), 5)) << "another run's moments";
  // A moments file whose values do not match its checksum is not used (computed again).
  {
    auto f = h5::File::open(store.dir() + "/moments/m/b000002.h5", true);
    h5::set_attr(f.id(), "/", "moments_checksum", int64_t{12345});
  }
  EXPECT_FALSE(store.read_moments(s, 5)) << "a damaged moments file";
  store.write_moments(s, mom);
  EXPECT_EQ(store.count_files().moments, 1);
  EXPECT_EQ(store.count_files().shards, 0);
  EXPECT_TRUE(store.holds_work("m"));
}

TEST(CheckpointStore, ShardIdsDependOnRunModelAndBlock) {
  const ModelId m1{"m", "1"}, m2{"m", "2"};
  const std::string a = shard_id("run", m1, 0, 4).fingerprint;
  EXPECT_NE(a, shard_id("run2", m1, 0, 4).fingerprint);
  EXPECT_NE(a, shard_id("run", m2, 0, 4).fingerprint);
  EXPECT_NE(a, shard_id("run", m1, 1, 4).fingerprint);
  EXPECT_EQ(a, shard_id("run", m1, 0, 4).fingerprint);
  EXPECT_EQ(a.size(), 16u);
}

TEST(CheckpointStore, FingerprintTextCoversFieldReferencesBlockPrecisionAndData) {
  const char* yaml = "zoo: [{name: a, path: a.pt}]\nreferences: {source: r.h5:/x}\n";
  const RunConfig c = load_config(yaml, "t");
  const std::string text = fingerprint_text(c, "datahash");
  for (const char* key : {"field.steps: 50", "field.method: gausslegendre", "references.source: r.h5:/x",
                          "run.block: 64", "run.precision: float32", "references.data_hash: datahash"})
    EXPECT_THAT(text, HasSubstr(key));
  EXPECT_NE(text, fingerprint_text(load_config(yaml, "t", {{"field.steps", "20"}}), "datahash"));
  // Keys outside field.*, references.*, run.block and run.precision do not change what shards hold.
  EXPECT_EQ(text,
            fingerprint_text(
                load_config(yaml, "t", {{"run.threads", "3"}, {"output.path", "x.h5"}, {"checkpoint.fields", "none"}}),
                "datahash"));
}

TEST(PairSums, RoundTripAreKeyedByFingerprintAndSayWhichPairsTheyCover) {
  const CheckpointStore store(testsupport::temp_dir("ckpt-pairs") + "/out.ckpt");
  EXPECT_FALSE(store.read_sums(SumKind::Plain, 0, "fp"));
  const ModelId a{"a", "1"}, b{"b", "2"}, c{"c", "3"};
  std::vector<double> sums(static_cast<size_t>(PairSums::kSums) * 4, 0.0);
  for (size_t i = 0; i < sums.size(); ++i) sums[i] = static_cast<double>(i);
  sums[(DistanceAccumulator::kRows * 2 + 0) * 2 + 1] = 5;  // rows of (a, b)
  sums[(DistanceAccumulator::kRows * 2 + 1) * 2 + 0] = 5;
  const PairSums p({a, b}, sums);
  store.write_sums(SumKind::Plain, 0, p, "fp");
  EXPECT_EQ(store.sums_path(SumKind::Plain, 0), store.dir() + "/pairs/plain-b0.h5");
  const auto r = store.read_sums(SumKind::Plain, 0, "fp");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->models(), p.models());
  EXPECT_EQ(r->raw(), p.raw());
  EXPECT_TRUE(r->covers(a, b));
  EXPECT_TRUE(r->covers_all({a, b}));
  EXPECT_FALSE(r->covers(a, c));
  // A grown zoo: the old sums stay, the new model's pairs are not covered.
  const PairSums grown = r->extended({a, c, b});
  EXPECT_EQ(grown.models().size(), 3u);
  EXPECT_TRUE(grown.covers(b, a));
  EXPECT_FALSE(grown.covers_all({a, b, c}));
  std::string problem;
  EXPECT_FALSE(store.read_sums(SumKind::Plain, 0, "another run", &problem));
  EXPECT_THAT(problem, HasSubstr("are not used (made for another run)"));
  EXPECT_FALSE(store.read_sums(SumKind::Standardized, 0, "fp"));
}

TEST(CheckpointStore, AManifestWithAFlippedBitIsRefused) {
  const CheckpointStore store(testsupport::temp_dir("ckpt-manifest-flip") + "/out.h5.ckpt");
  store.write_manifest(manifest());
  EXPECT_EQ(store.read_manifest().find("a")->path, "zoo/a.pt");
  // A model's path, held as data (not in HDF5's checksummed headers), changes on disk.
  const std::string path = store.dir() + "/MANIFEST.h5";
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const size_t at = bytes.find("zoo/a.pt");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 4] = 'b';
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  try {
    store.read_manifest();
    FAIL() << "a damaged manifest was trusted";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("is damaged (checksum mismatch)"));
  }
}
