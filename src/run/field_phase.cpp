// Phase 6: the fields of this rank's (model, reference block) pieces, each
// into its own checkpoint shard. Ranks do not talk to each other here.
#include <ATen/ATen.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "modelgif/error.hpp"
#include "run/phases.hpp"
#include "run/progress.hpp"
#include "run/signals.hpp"

namespace modelgif {
namespace {

struct FieldCounts {
  int64_t computed = 0, reused = 0, resumed = 0, corrupt = 0, points = 0;
  bool stopped = false;
  std::set<std::string> warned;  // models already warned about tiny fields
};

// Below this row norm PyTorch's cosine_similarity (which divides by
// max(|a| |b|, 1e-8)) no longer gives the cosine: the published code's
// distances to such a model go to 1, modelgif's (exact) do not.
constexpr double kTinyRowNorm = 1e-4;

// Warns on stderr (once per model and rank) when a model's field rows are that
// small: a model whose output barely depends on its input is usually a mistake.
void warn_if_tiny(const std::string& model, int64_t block, const at::Tensor& field, FieldCounts& n) {
  if (field.numel() == 0 || n.warned.count(model)) return;
  const double median = field.reshape({-1, field.size(-1)}).norm(2, 1).median().item<double>();
  if (!(median < kTinyRowNorm)) return;
  n.warned.insert(model);
  std::ostringstream s;
  s << "modelgif: warning: model '" << model << "': its field rows are tiny (median norm " << std::setprecision(2)
    << median << " < " << kTinyRowNorm << " on reference block " << block
    << "): its output barely depends on its input (untrained? wrong preprocessing?). modelgif's cosine stays "
       "exact; PyTorch's cosine_similarity (the published code) would put every distance to it near 1.\n";
  std::cerr << s.str() << std::flush;
}

// One piece: reuse, resume or compute its shard. Returns false when a signal stopped it.
bool compute_piece(RunState& run, const FieldEngine& engine, Progress& progress, int64_t m, int64_t k, FieldCounts& n) {
  const Plan& plan = run.plan;
  const Checkpoint& ckpt = run.ckpt;
  const auto [lo, hi] = plan.block_range(k);
  const Model& model = run.models.at(m);
  const std::string shard_fp = shard_fingerprint(plan.fingerprint, plan.keys[static_cast<size_t>(m)], k);
  const ShardStatus st = ckpt.probe(model.name(), k, shard_fp, hi - lo);
  if (st.kind == ShardStatus::Mismatch && !run.opt.recompute)
    throw_input("checkpoint shard " + ckpt.field_path(model.name(), k) + " does not belong to this run (" + st.reason +
                "); rerun with --recompute");
  if (st.kind == ShardStatus::Complete) {
    ++n.reused;
    return true;
  }
  if (st.kind == ShardStatus::Corrupt)
    ++n.corrupt, run.notes.push_back("checkpoint shard " + ckpt.field_path(model.name(), k) + " is corrupt (" +
                                     st.reason + "): recomputing");
  at::Tensor field;
  int64_t from = 0;
  if (st.kind == ShardStatus::Partial) {
    field = ckpt.read_field(model.name(), k);
    from = st.completed;
    ++n.resumed;
  }
  int64_t done = 0;
  const at::Tensor y = run.refs.labels.defined() ? run.refs.labels.slice(0, lo + from, hi) : at::Tensor();
  const auto keep_going = [&] {
    progress.tick();
    return !signals::stop_requested();
  };
  const ModelFn target = model.float32_fn();
  const at::Tensor rest =
      engine.compute(model.fn(), model.name(), run.refs.images.slice(0, lo + from, hi),
                     run.baselines.slice(0, lo + from, hi), y, lo + from, keep_going, &done, &target);
  n.points += done * run.cfg.field.steps;
  field = field.defined() ? at::cat({field, rest.slice(0, 0, done)}) : rest;
  const int64_t completed = from + done;
  if (completed < hi - lo) {  // stopped: keep the finished references
    if (completed > 0) ckpt.write_field(model.name(), k, shard_fp, field, completed, hi - lo, nullptr);
    return false;
  }
  warn_if_tiny(model.name(), k, field, n);
  FeatureMoments mom(plan.D);
  mom.add(field);
  ckpt.write_field(model.name(), k, shard_fp, field, completed, hi - lo, &mom);
  ++n.computed;
  progress.tick();
  return true;
}

}  // namespace

void compute_fields(RunState& run) {
  run.fields_started = true;
  const Plan& plan = run.plan;
  const RunConfig& cfg = run.cfg;
  const FieldEngine engine(cfg.field, run.max_points, run.device, run.numerics);
  Progress progress(run.ckpt, plan.M * plan.B, cfg.block * cfg.field.steps, cfg.progress_interval, run.log,
                    plan.rank == 0);
  const auto t0 = std::chrono::steady_clock::now();
  FieldCounts n;
  comm::collective(run.world, [&] {
    for (const int64_t k : plan.blocks) {
      for (int64_t m = plan.model_lo; m < plan.model_hi && !n.stopped; ++m)
        // Checked before every piece: also when a piece is a single micro-batch.
        n.stopped = signals::stop_requested() || !compute_piece(run, engine, progress, m, k, n);
      if (n.stopped) break;
    }
    run.seconds.emplace_back("fields work",
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  });
  run.print_notes();
  progress.finish();
  RunSummary& sum = run.summary;
  sum.pieces_computed = run.world.allreduce_sum(n.computed);
  sum.pieces_reused = run.world.allreduce_sum(n.reused);
  sum.pieces_resumed = run.world.allreduce_sum(n.resumed);
  sum.pieces_corrupt = run.world.allreduce_sum(n.corrupt);
  sum.points = run.world.allreduce_sum(n.points);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  run.log << "fields: " << sum.pieces_computed << " of " << plan.M * plan.B << " (model, block) pieces computed, "
          << sum.pieces_reused << " reused from the checkpoint";
  if (sum.pieces_resumed) run.log << ", " << sum.pieces_resumed << " resumed from partial shards";
  if (sum.pieces_corrupt) run.log << ", " << sum.pieces_corrupt << " corrupt ones recomputed";
  std::ostringstream secs;
  secs << std::fixed << std::setprecision(1) << sum.seconds;
  run.log << " (" << sum.points << " points in " << secs.str() << " s)\n";
  if (run.world.allreduce_max(n.stopped || signals::stop_requested() ? 1 : 0)) throw_stopped(run);
}

[[noreturn]] void throw_stopped(const RunState& run) {
  throw_shared(CheckpointedStop("stopped by signal " + std::to_string(signals::stop_signal()) +
                                ": finished shards are in " + run.ckpt.dir() + "; rerun the same command to resume"));
}

}  // namespace modelgif
