// The plan of a run: which ranks compute which (model, reference block)
// pieces. Ranks form a grid of G model groups x R reference shards; rank
// r < G*R takes group r / R (a contiguous slice of the zoo, sizes differing by
// at most one) and shard r mod R (reference blocks k = shard (mod R)); ranks
// beyond G*R idle.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "modelgif/config.hpp"
#include "run/ids.hpp"

namespace modelgif {

// The grid of the run: `spec` (run.grid) as given, or when automatic the
// shape that uses the most ranks, preferring reference shards.
Grid choose_grid(const Grid& spec, int ranks, int64_t models, int64_t blocks);
// [lo, hi) of part `i` when n items are split into `parts` nearly equal parts.
std::pair<int64_t, int64_t> split_range(int64_t n, int parts, int i);

// Everything a rank knows about the run's shape and its own share.
struct Plan {
  int rank = 0, ranks = 1, local_rank = 0, local_size = 1;
  Grid grid{1, 1};
  int group = -1, shard = -1;                 // -1: an idle rank
  int64_t M = 0, N = 0, B = 0, S = 0, D = 0;  // models, references, blocks, kept steps, features
  int64_t block = 1;                          // references per block
  int64_t model_lo = 0, model_hi = 0;         // this rank's models [lo, hi)
  std::vector<int64_t> blocks;                // this rank's reference blocks
  std::vector<std::string> names;             // zoo order
  std::vector<ModelId> ids;                   // zoo order

  bool active() const { return group >= 0; }
  bool owns(int64_t model) const { return model >= model_lo && model < model_hi; }
  // References [lo, hi) of block k.
  std::pair<int64_t, int64_t> block_range(int64_t k) const { return {k * block, std::min(N, (k + 1) * block)}; }
  // Takes the grid and fills this rank's share.
  void assign(const Grid& g);
};

}  // namespace modelgif
