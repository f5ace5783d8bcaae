#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/random.hpp"
#include "modelgif/references.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

std::vector<unsigned char> idx_bytes(const std::vector<int32_t>& dims, const std::vector<unsigned char>& data) {
  std::vector<unsigned char> b = {0, 0, 0x08, static_cast<unsigned char>(dims.size())};
  for (int32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>((d >> s) & 0xff));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_file(const std::string& path, const std::vector<unsigned char>& b, bool gz) {
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
}

std::string write_h5_refs(const std::string& dir, int64_t n) {
  const std::string path = dir + "/refs.h5";
  auto f = h5::File::create(path);
  const auto x = at::arange(n * 2 * 4 * 4, at::kFloat).view({n, 2, 4, 4}) / 100.0;
  h5::write(f.id(), "/images", h5::Type::F32, {static_cast<hsize_t>(n), 2, 4, 4}, x.contiguous().data_ptr());
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(i % 3);
  h5::write(f.id(), "/labels", h5::Type::I64, {static_cast<hsize_t>(n)}, labels.data());
  f.close();
  return path;
}

}  // namespace

TEST(Refs, IdxFilesPlainAndGzipAreRead) {
  const auto dir = testsupport::temp_dir("idx");
  std::vector<unsigned char> px;
  for (int i = 0; i < 3 * 2 * 2; ++i) px.push_back(static_cast<unsigned char>(i * 20));
  write_file(dir + "/a-images-idx3-ubyte", idx_bytes({3, 2, 2}, px), false);
  write_file(dir + "/a-images-idx3-ubyte.gz", idx_bytes({3, 2, 2}, px), true);
  for (const auto* name : {"/a-images-idx3-ubyte", "/a-images-idx3-ubyte.gz"}) {
    const auto t = read_idx(dir + name);
    ASSERT_EQ(t.sizes(), (at::IntArrayRef{3, 2, 2}));
    EXPECT_EQ(t[2][1][1].item<int>(), 11 * 20);
  }
  write_file(dir + "/bad-magic", {1, 2, 3, 4, 5}, false);
  EXPECT_THROW(read_idx(dir + "/bad-magic"), InputError);
  write_file(dir + "/short", idx_bytes({3, 2, 2}, {1, 2, 3}), false);
  try {
    read_idx(dir + "/short");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("short"));
  }
}

TEST(Refs, IdxImagesFindTheirLabelsAndArePreprocessed) {
  const auto dir = testsupport::temp_dir("idx-labels");
  std::vector<unsigned char> px(4 * 3 * 3, 51);  // 51/255 = 0.2
  write_file(dir + "/t-images-idx3-ubyte.gz", idx_bytes({4, 3, 3}, px), true);
  write_file(dir + "/t-labels-idx1-ubyte.gz", idx_bytes({4}, {3, 1, 4, 1}), true);
  ReferenceConfig c;
  c.source = dir + "/t-images-idx3-ubyte.gz";
  c.mean = {0.1};
  c.std = {0.5};
  const auto r = load_references(c);
  ASSERT_EQ(r.images.sizes(), (at::IntArrayRef{4, 1, 3, 3}));
  EXPECT_NEAR(r.images[0][0][0][0].item<double>(), (0.2 - 0.1) / 0.5, 1e-6);
  ASSERT_TRUE(r.labels.defined());
  EXPECT_EQ(r.labels[2].item<int64_t>(), 4);
  c.mean = {0.1, 0.2};
  c.std = {1, 1};
  EXPECT_THROW(load_references(c), UsageError);
}

TEST(Refs, FashionMnistFromDebian) {
  const std::string src = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(src)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  ReferenceConfig c;
  c.source = src;
  c.count = 16;
  c.random = true;
  c.seed = 3;
  const auto r = load_references(c);
  ASSERT_EQ(r.images.sizes(), (at::IntArrayRef{16, 1, 28, 28}));
  EXPECT_GE(r.images.min().item<float>(), 0.f);
  EXPECT_LE(r.images.max().item<float>(), 1.f);
  EXPECT_GT(r.images.max().item<float>(), 0.5f);
  ASSERT_TRUE(r.labels.defined());
  EXPECT_GE(r.labels.min().item<int64_t>(), 0);
  EXPECT_LE(r.labels.max().item<int64_t>(), 9);
  EXPECT_TRUE(std::is_sorted(r.indices.begin(), r.indices.end()));
  EXPECT_LT(r.indices.front(), r.indices.back());
}

TEST(Refs, Hdf5SourceSelectionResizeAndScale) {
  const auto dir = testsupport::temp_dir("h5refs");
  const auto path = write_h5_refs(dir, 10);
  ReferenceConfig c;
  c.source = path + ":/images";
  c.labels = path + ":/labels";
  c.count = 4;
  auto first = load_references(c);
  EXPECT_EQ(first.indices, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(first.labels[3].item<int64_t>(), 0);
  EXPECT_NEAR(first.images[1][0][0][1].item<double>(), 33 / 100.0, 1e-6);
  c.random = true;
  c.seed = 1;
  const auto r1 = load_references(c);
  c.seed = 2;
  const auto r2 = load_references(c);
  auto c1 = c;
  c1.seed = 1;
  EXPECT_EQ(r1.indices, load_references(c1).indices);
  EXPECT_NE(r1.indices, r2.indices);
  for (size_t i = 0; i < r1.indices.size(); ++i)
    EXPECT_EQ(r1.labels[static_cast<int64_t>(i)].item<int64_t>(), r1.indices[i] % 3);
  c.resize = {8, 6};
  c.scale = 2.0;
  c.shift = -1.0;
  const auto rs = load_references(c);
  ASSERT_EQ(rs.images.sizes(), (at::IntArrayRef{4, 2, 8, 6}));
  c.count = 11;
  EXPECT_THROW(load_references(c), InputError);
  c.source = path + ":/nothing";
  EXPECT_THROW(load_references(c), InputError);
  c.source = dir + "/missing.h5:/images";
  EXPECT_THROW(load_references(c), InputError);
  c.source = dir + "/no-such-folder";
  EXPECT_THROW(load_references(c), InputError);
}

TEST(Refs, ImageFolderWithClassSubfolders) {
  const auto dir = testsupport::temp_dir("images");
  for (const char* cls : {"cat", "dog"}) fs::create_directories(dir + "/" + cls);
  std::vector<unsigned char> rgb(5 * 4 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<unsigned char>(i * 4);
  ASSERT_TRUE(stbi_write_png((dir + "/cat/1.png").c_str(), 5, 4, 3, rgb.data(), 5 * 3));
  ASSERT_TRUE(stbi_write_png((dir + "/dog/a.png").c_str(), 5, 4, 3, rgb.data(), 5 * 3));
  ASSERT_TRUE(stbi_write_jpg((dir + "/dog/b.jpg").c_str(), 5, 4, 3, rgb.data(), 95));
  ReferenceConfig c;
  c.source = dir;
  const auto r = load_references(c);
  ASSERT_EQ(r.images.sizes(), (at::IntArrayRef{3, 3, 4, 5}));
  EXPECT_EQ(r.labels.equal(at::tensor({0, 1, 1}, at::kLong)), true);
  // PNG is lossless: pixel (row 1, col 2, channel 1) = index (1*5+2)*3+1.
  EXPECT_NEAR(r.images[0][1][1][2].item<double>(), ((1 * 5 + 2) * 3 + 1) * 4 / 255.0, 1e-6);
  c.channels = 1;
  EXPECT_EQ(load_references(c).images.size(1), 1);
  ASSERT_TRUE(stbi_write_png((dir + "/dog/c.png").c_str(), 3, 3, 3, rgb.data(), 9));
  c.channels = 0;
  EXPECT_THROW(load_references(c), InputError);  // shapes differ
  c.resize = {4, 5};
  EXPECT_EQ(load_references(c).images.size(0), 4);
  std::ofstream(dir + "/dog/broken.png") << "not a png";
  try {
    load_references(c);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("broken.png"));
  }
}

TEST(Refs, ShuffleBaselineIsAnotherReference) {
  const auto x = at::arange(6, at::kFloat).view({6, 1, 1, 1});
  BaselineConfig b;
  b.kind = BaselineConfig::Kind::Shuffle;
  b.seed = 5;
  const auto base = make_baselines(b, x);
  for (int i = 0; i < 6; ++i) {
    const auto v = base[i].item<float>();
    EXPECT_NE(v, static_cast<float>(i));
    EXPECT_EQ(v, static_cast<float>(derangement(6, 5)[i]));
  }
  b.kind = BaselineConfig::Kind::Constant;
  b.value = -0.5;
  EXPECT_TRUE(make_baselines(b, x).equal(at::full_like(x, -0.5)));
}

TEST(Refs, CutMixPastesOneBoxOfAnotherReference) {
  // Image i is constant i + 1 in both channels: every pixel of a CutMix image
  // tells where it came from.
  const int64_t n = 200, H = 12, W = 10;
  const auto x = (at::arange(n, at::kFloat) + 1).view({n, 1, 1, 1}).expand({n, 2, H, W}).contiguous();
  const auto y = cutmix(x, 3);
  EXPECT_TRUE(y.equal(cutmix(x, 3)));
  EXPECT_FALSE(y.equal(cutmix(x, 4)));
  double pasted_fraction = 0.0;
  int with_box = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto img = y[i];
    EXPECT_TRUE(img[0].equal(img[1]));  // the same box in every channel
    const auto other = img[0].ne(static_cast<float>(i + 1));
    const int64_t k = other.sum().item<int64_t>();
    pasted_fraction += static_cast<double>(k) / static_cast<double>(H * W) / static_cast<double>(n);
    if (k == 0) continue;
    ++with_box;
    // One partner, never the image itself, and its pixels form one rectangle.
    const auto vals = img[0].masked_select(other);
    EXPECT_TRUE(vals.eq(vals[0]).all().item<bool>());
    const auto rows = other.any(1).nonzero().view(-1), cols = other.any(0).nonzero().view(-1);
    const int64_t h = rows.size(0), w = cols.size(0);
    EXPECT_EQ(k, h * w) << "image " << i;
    EXPECT_EQ(rows[-1].item<int64_t>() - rows[0].item<int64_t>() + 1, h);
    EXPECT_EQ(cols[-1].item<int64_t>() - cols[0].item<int64_t>() + 1, w);
  }
  // Box areas uniform in [0, 1] before clipping at the border: on average
  // between a quarter and a half of the image comes from the partner.
  EXPECT_GT(with_box, n * 8 / 10);
  EXPECT_GT(pasted_fraction, 0.25);
  EXPECT_LT(pasted_fraction, 0.5);
  EXPECT_THROW(cutmix(x.slice(0, 0, 1), 0), UsageError);
}
