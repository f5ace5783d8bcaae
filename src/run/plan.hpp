// The plan of a run: which ranks compute which (model, reference block)
// pieces. Ranks form a grid of G model groups x R reference shards; rank
// r < G*R takes group r / R (a contiguous slice of the zoo) and shard r mod R
// (reference blocks k = shard (mod R)).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace modelgif {

// The grid: `spec` is "auto" or "GxR" (model groups x reference shards).
struct Grid {
  int groups = 1, shards = 1;
  int used() const { return groups * shards; }
};
Grid choose_grid(const std::string& spec, int ranks, int64_t models, int64_t blocks);
// [lo, hi) of part `i` when n items are split into `parts` nearly equal parts.
std::pair<int64_t, int64_t> split_range(int64_t n, int parts, int i);

}  // namespace modelgif
