#include "run/plan.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <tuple>

#include "modelgif/config.hpp"
#include "modelgif/error.hpp"

namespace modelgif {

std::pair<int64_t, int64_t> split_range(int64_t n, int parts, int i) {
  const int64_t base = n / parts, extra = n % parts;
  const int64_t lo = i * base + std::min<int64_t>(i, extra);
  return {lo, lo + base + (i < extra ? 1 : 0)};
}

Grid choose_grid(const Grid& spec, int ranks, int64_t models, int64_t blocks) {
  Grid g{1, 1};
  if (spec.automatic()) {
    // Use as many ranks as the work allows; among equal counts prefer more
    // reference shards: they need no exchange of fields between ranks.
    for (int shards = 1; shards <= std::min<int64_t>(ranks, blocks); ++shards) {
      const int groups = static_cast<int>(std::min<int64_t>(ranks / shards, models));
      if (groups < 1) continue;
      if (groups * shards > g.used() || (groups * shards == g.used() && shards > g.shards)) g = {groups, shards};
    }
    return g;
  }
  g = spec;
  if (g.used() > ranks)
    throw_usage("config key 'run.grid': " + spec.str() + " needs " + std::to_string(g.used()) + " ranks, the job has " +
                std::to_string(ranks));
  if (g.groups > models)
    throw_usage("config key 'run.grid': " + std::to_string(g.groups) + " model groups for " + std::to_string(models) +
                " models");
  if (g.shards > blocks)
    throw_usage("config key 'run.grid': " + std::to_string(g.shards) + " reference shards for " +
                std::to_string(blocks) + " reference blocks (lower run.block or the shards)");
  return g;
}

void Plan::assign(const Grid& g) {
  grid = g;
  if (rank >= grid.used()) return;  // idle
  group = rank / grid.shards, shard = rank % grid.shards;
  std::tie(model_lo, model_hi) = split_range(M, grid.groups, group);
  for (int64_t k = shard; k < B; k += grid.shards) blocks.push_back(k);
}

}  // namespace modelgif
