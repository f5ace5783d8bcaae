// What a run finished, for the batch script that decides whether to requeue
// it: the checkpoint's work counted from its files' headers, before the field
// phase and at exit (`modelgif run --report FILE`).
#include <fstream>
#include <sstream>

#include "base/files.hpp"
#include "run/pair_cache.hpp"
#include "run/phases.hpp"

namespace modelgif {
namespace {

std::vector<std::string> pair_kinds(const RunConfig& cfg) {
  std::vector<std::string> kinds = {"plain"};
  if (cfg.wants(Metric::CosineStandardized)) kinds.push_back("standardized");
  return kinds;
}

}  // namespace

WorkTally tally_work(const RunState& run) {
  const Plan& plan = run.plan;
  WorkTally t;
  for (int64_t m = 0; m < plan.M; ++m)
    for (int64_t k = 0; k < plan.B; ++k) {
      const auto [lo, hi] = plan.block_range(k);
      const std::string& name = plan.names[static_cast<size_t>(m)];
      const ShardStatus st = run.ckpt.probe(
          name, k, shard_fingerprint(plan.fingerprint, plan.keys[static_cast<size_t>(m)], k), hi - lo, false);
      if (st.kind != ShardStatus::Complete && st.kind != ShardStatus::Partial) continue;
      t.rows += st.completed;
      t.pieces += st.kind == ShardStatus::Complete ? 1 : 0;
    }
  for (const auto& kind : pair_kinds(run.cfg))
    for (int64_t k = 0; k < plan.B; ++k) {
      const PairCache cache = read_pair_cache(run.ckpt, kind, k, plan.fingerprint);
      const auto index = cache.index();
      bool all = true;
      for (int64_t a = 0; a < plan.M && all; ++a)
        for (int64_t b = a + 1; b < plan.M && all; ++b) {
          const auto ia = index.find(plan.keys[static_cast<size_t>(a)]),
                     ib = index.find(plan.keys[static_cast<size_t>(b)]);
          all = ia != index.end() && ib != index.end() && cache.covers(ia->second, ib->second);
        }
      t.pair_blocks += all ? 1 : 0;
    }
  return t;
}

void write_run_report(const RunState& run, const std::string& path, const std::string& state, const WorkTally* before,
                      const WorkTally* now) {
  const Plan& plan = run.plan;
  const int64_t pieces = plan.M * plan.B, rows = plan.M * plan.N,
                pair_blocks = plan.B * static_cast<int64_t>(pair_kinds(run.cfg).size());
  std::ostringstream s;
  s << "# modelgif run report: what this start of the run finished (written at exit)\n";
  s << "state: " << state << "\n";
  const bool progress = state == "complete" || (before && now && !(*before == *now));
  s << "progress: " << (progress ? "true" : "false") << "\n";
  if (before && now) {
    s << "summary: finished " << now->pieces - before->pieces << " (model, block) pieces (" << now->rows - before->rows
      << " model-references) and " << now->pair_blocks - before->pair_blocks << " pair blocks; done " << now->pieces
      << " of " << pieces << " pieces, " << now->pair_blocks << " of " << pair_blocks << " pair blocks; "
      << pieces - now->pieces << " pieces and " << pair_blocks - now->pair_blocks << " pair blocks remain\n";
    s << "pieces_done: " << now->pieces << "\npieces_total: " << pieces << "\n";
    s << "rows_done: " << now->rows << "\nrows_total: " << rows << "\n";
    s << "pair_blocks_done: " << now->pair_blocks << "\npair_blocks_total: " << pair_blocks << "\n";
  } else {
    s << "summary: " << (state == "complete" ? "finished the run" : "stopped before its checkpoint was read") << "\n";
  }
  write_text_atomic(path, s.str());
}

}  // namespace modelgif
