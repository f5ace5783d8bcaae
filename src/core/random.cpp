#include "modelgif/random.hpp"

#include <string>

#include "modelgif/error.hpp"

namespace modelgif {

uint64_t SeededDraws::below(uint64_t bound) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t r = 0;
  do r = gen_();
  while (r >= limit);
  return r % bound;
}

double SeededDraws::unit() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

std::vector<int64_t> derangement(int64_t n, uint64_t seed) {
  if (n < 2) throw_usage("baseline shuffle needs at least 2 references, got " + std::to_string(n));
  SeededDraws draws(seed);
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (;;) {  // uniform over derangements: shuffle until no fixed point (about e tries)
    for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(draws.below(static_cast<uint64_t>(i + 1)))]);
    bool fixed = false;
    for (int64_t i = 0; i < n && !fixed; ++i) fixed = p[static_cast<size_t>(i)] == i;
    if (!fixed) return p;
  }
}

}  // namespace modelgif
