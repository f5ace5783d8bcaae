// Per-block pair sums, cached in the checkpoint (pairs/<kind>-b<k>.h5; kind:
// plain or standardized), keyed by model identity (name@filehash), so a grown
// zoo computes only the pairs that involve its new models. Each cache carries
// the run's fingerprint and a CRC-32 of its keys and sums; a cache that fails
// either (or is unreadable) is reported and its pairs are computed again.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "run/checkpoint.hpp"

namespace modelgif {

struct PairCache {
  std::vector<std::string> keys;  // model name@hash
  std::vector<double> sums;       // DistanceAccumulator::kSums x K x K

  // Position of each key.
  std::map<std::string, size_t> index() const;
  double sum(int which, size_t a, size_t b) const { return sums[(which * keys.size() + a) * keys.size() + b]; }
  // A pair counts as cached when its sums cover some rows.
  bool covers(size_t a, size_t b) const;
};

std::string pair_cache_path(const Checkpoint& ckpt, const std::string& kind, int64_t block);
// Empty when missing or unusable; then `problem` (when given) says why an
// existing file is not used ("" for a missing one).
PairCache read_pair_cache(const Checkpoint& ckpt, const std::string& kind, int64_t block,
                          const std::string& fingerprint, std::string* problem = nullptr);
void write_pair_cache(const Checkpoint& ckpt, const std::string& kind, int64_t block, const PairCache& cache,
                      const std::string& fingerprint);

}  // namespace modelgif
