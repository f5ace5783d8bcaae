// Per-block pair sums, cached in the checkpoint (pairs/<kind>-b<k>.h5; kind:
// plain or standardized), keyed by model identity (name@filehash), so a grown
// zoo computes only the pairs that involve its new models. A cache made for
// another run fingerprint is ignored; an unreadable one only costs recomputation.
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
// Empty when missing, unreadable, or made for another run fingerprint.
PairCache read_pair_cache(const Checkpoint& ckpt, const std::string& kind, int64_t block,
                          const std::string& fingerprint);
void write_pair_cache(const Checkpoint& ckpt, const std::string& kind, int64_t block, const PairCache& cache,
                      const std::string& fingerprint);

}  // namespace modelgif
