// The project's own seeded random draws. Integers come from std::mt19937_64,
// whose sequence the C++ standard fixes; they are mapped to ranges by our own
// arithmetic (std::uniform_*_distribution are implementation-defined), so a
// seed gives the same reference sample, shuffle baseline and CutMix boxes on
// every platform and standard library.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace modelgif {

class SeededDraws {
 public:
  explicit SeededDraws(uint64_t seed) : gen_(seed) {}
  // Uniform integer in [0, bound), bound >= 1: by rejection, without modulo bias.
  uint64_t below(uint64_t bound);
  // Uniform double in [0, 1): the top 53 bits of one draw, times 2^-53.
  double unit();

 private:
  std::mt19937_64 gen_;
};

// A seeded random permutation of 0..n-1 with no fixed point (n >= 2), uniform
// over derangements (Fisher-Yates, redrawn while it has a fixed point).
std::vector<int64_t> derangement(int64_t n, uint64_t seed);

}  // namespace modelgif
