// What a run finished, for the batch script that decides whether to requeue
// it: the checkpoint's work counted from its files' headers, before the field
// phase and at exit (`modelgif run --report FILE`).
#include <fstream>
#include <sstream>

#include "base/files.hpp"
#include "run/phases.hpp"

namespace modelgif {

WorkTally tally_work(const RunConfig& cfg, const Plan& plan, const std::string& fingerprint,
                     const CheckpointStore& store) {
  WorkTally t;
  const std::vector<SumKind> kinds = sum_kinds(cfg);
  std::vector<bool> summed(static_cast<size_t>(plan.B), true);  // every kind's sums cover the zoo
  for (const SumKind kind : kinds)
    for (int64_t k = 0; k < plan.B; ++k) {
      const auto sums = store.read_sums(kind, k, fingerprint);
      const bool all = plan.M < 2 || (sums && sums->covers_all(plan.ids));
      t.pair_blocks += all ? 1 : 0;
      summed[static_cast<size_t>(k)] = summed[static_cast<size_t>(k)] && all;
    }
  for (int64_t m = 0; m < plan.M; ++m)
    for (int64_t k = 0; k < plan.B; ++k) {
      const auto [lo, hi] = plan.block_range(k);
      const ShardStatus st = store.probe(shard_id(fingerprint, plan.ids[static_cast<size_t>(m)], k, hi - lo), false);
      // A piece is done when its shard is, or (checkpoint.fields: none) when its block's sums are.
      const bool done = st.kind == ShardStatus::Complete || summed[static_cast<size_t>(k)];
      t.rows += done ? hi - lo : st.kind == ShardStatus::Partial ? st.completed : 0;
      t.pieces += done ? 1 : 0;
    }
  return t;
}

void write_run_report(const RunConfig& cfg, const Plan& plan, const std::string& path, const std::string& state,
                      const WorkTally* before, const WorkTally* now) {
  const int64_t pieces = plan.M * plan.B, rows = plan.M * plan.N,
                pair_blocks = plan.B * static_cast<int64_t>(sum_kinds(cfg).size());
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
