#include "run/pair_cache.hpp"

#include <filesystem>

#include "base/files.hpp"
#include "modelgif/distance.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "run/checksum.hpp"

namespace fs = std::filesystem;

namespace modelgif {

std::map<std::string, size_t> PairCache::index() const {
  std::map<std::string, size_t> out;
  for (size_t i = 0; i < keys.size(); ++i) out[keys[i]] = i;
  return out;
}

bool PairCache::covers(size_t a, size_t b) const { return sum(DistanceAccumulator::kRows, a, b) > 0; }

std::string pair_cache_path(const Checkpoint& ckpt, const std::string& kind, int64_t block) {
  return ckpt.dir() + "/pairs/" + kind + "-b" + std::to_string(block) + ".h5";
}

PairCache read_pair_cache(const Checkpoint& ckpt, const std::string& kind, int64_t block,
                          const std::string& fingerprint, std::string* problem) {
  const std::string path = pair_cache_path(ckpt, kind, block);
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  std::string why;
  PairCache c;
  try {
    auto f = h5::File::open(path);
    if (!h5::has_attr(f.id(), "/", "fingerprint") || h5::get_attr_string(f.id(), "/", "fingerprint") != fingerprint) {
      why = "made for another run";
    } else if (!h5::has_attr(f.id(), "/", "checksum")) {
      why = "it has no checksum (an older modelgif made it)";
    } else {
      c.keys = h5::read_strings(f.id(), "/keys");
      c.sums = h5::read_f64(f.id(), "/sums");
      if (c.sums.size() != static_cast<size_t>(DistanceAccumulator::kSums) * c.keys.size() * c.keys.size())
        why = "it holds " + std::to_string(c.sums.size()) + " sums for " + std::to_string(c.keys.size()) + " models";
      else if (Crc32().add(c.keys).add(c.sums).value() != h5::get_attr_int(f.id(), "/", "checksum"))
        why = "checksum mismatch";
    }
  } catch (const StoreError& e) {
    why = std::string("unreadable: ") + e.what();
  }
  if (why.empty()) return c;
  if (problem) *problem = "pair cache " + path + " is not used (" + why + ")";
  return {};
}

void write_pair_cache(const Checkpoint& ckpt, const std::string& kind, int64_t block, const PairCache& cache,
                      const std::string& fingerprint) {
  ensure_dir(ckpt.dir() + "/pairs", "checkpoint " + ckpt.dir());
  h5::write_file(pair_cache_path(ckpt, kind, block), [&](hid_t f) {
    h5::write_strings(f, "/keys", cache.keys);
    const hsize_t K = cache.keys.size();
    h5::write(f, "/sums", h5::Type::F64, {static_cast<hsize_t>(DistanceAccumulator::kSums), K, K}, cache.sums.data());
    h5::set_attr(f, "/", "fingerprint", fingerprint);
    h5::set_attr(f, "/", "checksum", Crc32().add(cache.keys).add(cache.sums).value());
  });
}

}  // namespace modelgif
