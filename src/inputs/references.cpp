#include "modelgif/references.hpp"

#include <ATen/ATen.h>
#include <stb_image.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "base/files.hpp"
#include "core/shape.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/random.hpp"

namespace fs = std::filesystem;

namespace modelgif {
namespace {

// Whole file through zlib: reads gzip and plain files alike.
std::vector<unsigned char> read_maybe_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw_input("references " + path + ": cannot open the file");
  std::vector<unsigned char> data;
  unsigned char buf[1 << 16];
  int got = 0;
  while ((got = gzread(f, buf, sizeof buf)) > 0) data.insert(data.end(), buf, buf + got);
  const bool failed = got < 0;
  gzclose(f);
  if (failed) throw_input("references " + path + ": corrupt gzip stream");
  return data;
}

bool has_image_ext(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".png" || e == ".jpg" || e == ".jpeg";
}

at::Tensor resize_float(const at::Tensor& x, const std::vector<int64_t>& hw) {
  if (hw.empty() || (x.size(2) == hw[0] && x.size(3) == hw[1])) return x;
  return at::upsample_bilinear2d(x, {hw[0], hw[1]}, /*align_corners=*/false);
}

std::vector<int64_t> select_indices(int64_t available, const ReferenceConfig& cfg) {
  if (available == 0) throw_input("references " + cfg.source + ": no references (the source holds no images)");
  const int64_t n = cfg.count == 0 ? available : cfg.count;
  if (n > available)
    throw_input("references " + cfg.source + ": references.count is " + std::to_string(n) + " but the source holds " +
                std::to_string(available));
  std::vector<int64_t> all(static_cast<size_t>(available));
  for (int64_t i = 0; i < available; ++i) all[static_cast<size_t>(i)] = i;
  if (!cfg.random) return {all.begin(), all.begin() + n};
  SeededDraws draws(cfg.seed);
  for (int64_t i = 0; i < n; ++i)  // partial Fisher-Yates
    std::swap(all[static_cast<size_t>(i)],
              all[static_cast<size_t>(i + static_cast<int64_t>(draws.below(static_cast<uint64_t>(available - i))))]);
  std::vector<int64_t> pick(all.begin(), all.begin() + n);
  std::sort(pick.begin(), pick.end());
  return pick;
}

at::Tensor read_h5(const std::string& spec, const std::string& what, bool as_labels) {
  std::string file, dataset;
  if (!split_h5_spec(spec, file, dataset)) throw_input(what + " " + spec + ": expected FILE.h5:/dataset");
  require_file(file, what + " " + spec);
  auto f = h5::File::open(file);
  if (!h5::exists(f.id(), dataset)) throw_input(what + " " + spec + ": no dataset " + dataset + " in " + file);
  const auto d = h5::dims(f.id(), dataset);
  std::vector<int64_t> shape(d.begin(), d.end());
  if (as_labels) {
    auto v = h5::read_i64(f.id(), dataset);
    return at::tensor(v, at::kLong).view({-1});
  }
  auto v = h5::read_f32(f.id(), dataset);
  return at::tensor(v, at::kFloat).view(shape);
}

}  // namespace

std::vector<int64_t> ReferenceSet::shape() const { return {images.size(1), images.size(2), images.size(3)}; }

bool split_h5_spec(const std::string& spec, std::string& file, std::string& dataset) {
  const auto pos = spec.find(":/");
  if (pos == std::string::npos || pos == 0) return false;
  file = spec.substr(0, pos);
  dataset = spec.substr(pos + 1);
  return true;
}

at::Tensor read_idx(const std::string& path) {
  const auto data = read_maybe_gz(path);
  if (data.size() < 4 || data[0] != 0 || data[1] != 0)
    throw_input("references " + path + ": not an IDX file (bad magic number)");
  if (data[2] != 0x08) throw_input("references " + path + ": IDX element type must be unsigned byte (0x08)");
  const int rank = data[3];
  if (rank < 1 || data.size() < 4 + 4 * static_cast<size_t>(rank))
    throw_input("references " + path + ": truncated IDX header");
  std::vector<int64_t> dims;
  size_t total = 1;
  for (int i = 0; i < rank; ++i) {
    const unsigned char* p = &data[4 + 4 * static_cast<size_t>(i)];
    const int64_t d = (int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | int64_t{p[3]};
    dims.push_back(d);
    total *= static_cast<size_t>(d);
  }
  const size_t off = 4 + 4 * static_cast<size_t>(rank);
  if (data.size() - off != total)
    throw_input("references " + path + ": IDX data holds " + std::to_string(data.size() - off) +
                " bytes, header says " + std::to_string(total));
  auto t = at::empty(dims, at::kByte);
  std::copy(data.begin() + static_cast<std::ptrdiff_t>(off), data.end(), t.data_ptr<uint8_t>());
  return t;
}

at::Tensor read_image_folder(const std::string& dir, int64_t channels, const std::vector<int64_t>& resize,
                             at::Tensor* labels) {
  std::vector<std::pair<fs::path, int64_t>> files;
  std::vector<fs::path> classes;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code kind;  // a dangling link is no folder, not a failure of the listing
    if (it->is_directory(kind))
      classes.push_back(it->path());
    else if (has_image_ext(it->path()))
      files.emplace_back(it->path(), -1);
  }
  if (ec) throw_input("references " + dir + ": cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  std::sort(classes.begin(), classes.end());
  const bool by_class = files.empty() && !classes.empty();
  if (by_class) {
    for (size_t c = 0; c < classes.size(); ++c) {
      std::vector<std::pair<fs::path, int64_t>> in_class;
      for (fs::directory_iterator it(classes[c], ec), end; !ec && it != end; it.increment(ec))
        if (has_image_ext(it->path())) in_class.emplace_back(it->path(), static_cast<int64_t>(c));
      if (ec) throw_input("references " + classes[c].string() + ": cannot list the folder: " + ec.message());
      std::sort(in_class.begin(), in_class.end());
      files.insert(files.end(), in_class.begin(), in_class.end());
    }
  }
  if (files.empty()) throw_input("references " + dir + ": no .png/.jpg/.jpeg images in the folder");

  std::vector<at::Tensor> images;
  std::vector<int64_t> ys;
  for (const auto& [path, label] : files) {
    int w = 0, h = 0, c = 0;
    unsigned char* px = stbi_load(path.c_str(), &w, &h, &c, static_cast<int>(channels));
    if (!px) throw_input("references " + path.string() + ": cannot decode image (" + stbi_failure_reason() + ")");
    const int64_t cc = channels ? channels : c;
    auto t = at::from_blob(px, {h, w, cc}, at::kByte).permute({2, 0, 1}).clone();
    stbi_image_free(px);
    if (!resize.empty()) {
      t = resize_float(t.unsqueeze(0).to(at::kFloat), resize).squeeze(0).round().clamp(0, 255).to(at::kByte);
    }
    if (!images.empty() && t.sizes() != images.front().sizes())
      throw_input("references " + path.string() + ": image shape " + shape_str(t.sizes()) + " differs from " +
                  shape_str(images.front().sizes()) + " of the first image (set references.resize / channels)");
    images.push_back(t);
    ys.push_back(label);
  }
  if (labels && by_class) *labels = at::tensor(ys, at::kLong);
  return at::stack(images);
}

at::Tensor make_baselines(const BaselineConfig& baseline, const at::Tensor& images) {
  switch (baseline.kind) {
    case BaselineConfig::Kind::Zeros:
      return at::zeros_like(images);
    case BaselineConfig::Kind::Constant:
      return at::full_like(images, baseline.value);
    case BaselineConfig::Kind::Shuffle: {
      const auto perm = derangement(images.size(0), baseline.seed);
      return images.index_select(0, at::tensor(perm, at::kLong));
    }
  }
  return at::zeros_like(images);
}

at::Tensor cutmix(const at::Tensor& images, uint64_t seed) {
  const int64_t n = images.size(0), H = images.size(2), W = images.size(3);
  if (n < 2) throw_usage("config key 'references.cutmix': needs at least 2 references");
  const auto partner = derangement(n, seed + 0x9e3779b9ULL);
  SeededDraws draws(seed + 0x7f4a7c15ULL);
  at::Tensor out = images.clone();
  for (int64_t i = 0; i < n; ++i) {
    const double keep = draws.unit(), side = std::sqrt(1.0 - keep);  // the box covers 1 - keep of the image
    const auto bh = static_cast<int64_t>(std::round(side * static_cast<double>(H)));
    const auto bw = static_cast<int64_t>(std::round(side * static_cast<double>(W)));
    const auto cy = static_cast<int64_t>(draws.unit() * static_cast<double>(H));
    const auto cx = static_cast<int64_t>(draws.unit() * static_cast<double>(W));
    const int64_t y0 = std::clamp<int64_t>(cy - bh / 2, 0, H), y1 = std::clamp<int64_t>(cy + (bh + 1) / 2, 0, H);
    const int64_t x0 = std::clamp<int64_t>(cx - bw / 2, 0, W), x1 = std::clamp<int64_t>(cx + (bw + 1) / 2, 0, W);
    if (y1 <= y0 || x1 <= x0) continue;
    out[i].slice(1, y0, y1).slice(2, x0, x1).copy_(
        images[partner[static_cast<size_t>(i)]].slice(1, y0, y1).slice(2, x0, x1));
  }
  return out;
}

ReferenceSet load_references(const ReferenceConfig& cfg) {
  ReferenceSet r;
  r.source = cfg.source;
  at::Tensor raw, labels;  // raw: N x C x H x W; uint8 pixels or float
  std::string file, dataset;
  if (split_h5_spec(cfg.source, file, dataset)) {
    raw = read_h5(cfg.source, "references", false);
    if (raw.dim() == 3) raw = raw.unsqueeze(1);
    if (raw.dim() != 4)
      throw_input("references " + cfg.source + ": expected N x C x H x W (or N x H x W), got " +
                  shape_str(raw.sizes()));
  } else if (std::error_code ec; fs::is_directory(cfg.source, ec)) {
    raw = read_image_folder(cfg.source, cfg.channels, cfg.resize, &labels);
  } else if (fs::is_regular_file(cfg.source, ec)) {
    raw = read_idx(cfg.source);
    if (raw.dim() == 3)
      raw = raw.unsqueeze(1);  // N x H x W -> N x 1 x H x W
    else if (raw.dim() == 4)
      raw = raw.permute({0, 3, 1, 2}).contiguous();  // N x H x W x C
    else
      throw_input("references " + cfg.source + ": IDX images must be N x H x W or N x H x W x C, got " +
                  shape_str(raw.sizes()));
  } else {
    throw_input("references " + cfg.source + ": no such file or folder");
  }

  // Labels: explicit source, or the IDX labels file beside IDX images.
  std::string label_src = cfg.labels;
  std::error_code ec;
  if (label_src.empty() && fs::is_regular_file(cfg.source, ec)) {
    std::string guess = cfg.source;
    const auto pos = guess.find("images-idx3-ubyte");
    if (pos != std::string::npos) {
      guess.replace(pos, 17, "labels-idx1-ubyte");
      if (fs::exists(guess, ec)) label_src = guess;
    }
  }
  if (!label_src.empty()) {
    if (split_h5_spec(label_src, file, dataset))
      labels = read_h5(label_src, "labels", true);
    else
      labels = read_idx(label_src).to(at::kLong).view({-1});
    if (labels.numel() != raw.size(0))
      throw_input("labels " + label_src + ": " + std::to_string(labels.numel()) + " labels for " +
                  std::to_string(raw.size(0)) + " references in " + cfg.source);
  }

  r.indices = select_indices(raw.size(0), cfg);
  const auto idx = at::tensor(r.indices, at::kLong);
  at::Tensor x = raw.index_select(0, idx);
  x = x.scalar_type() == at::kByte ? x.to(at::kFloat) / 255.0 : x.to(at::kFloat);
  x = resize_float(x, cfg.resize);
  x = x * cfg.scale + cfg.shift;
  if (!cfg.mean.empty()) {
    if (static_cast<int64_t>(cfg.mean.size()) != x.size(1))
      throw_usage("config key 'references.mean': " + std::to_string(cfg.mean.size()) + " values for " +
                  std::to_string(x.size(1)) + " channels of " + cfg.source);
    const auto c = x.size(1);
    x = (x - at::tensor(cfg.mean, at::kDouble).to(at::kFloat).view({1, c, 1, 1})) /
        at::tensor(cfg.std, at::kDouble).to(at::kFloat).view({1, c, 1, 1});
  }
  if (cfg.cutmix) x = cutmix(x, cfg.seed);
  if (!at::isfinite(x).all().item<bool>()) throw_input("references " + cfg.source + ": contains NaN or Inf values");
  r.images = x.contiguous();
  if (labels.defined()) r.labels = labels.index_select(0, idx);
  return r;
}

}  // namespace modelgif
