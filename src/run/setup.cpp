// The phases before any field work: placement, inputs, plan, models.
#include <ATen/ATen.h>

#include <sstream>

#include "base/allocator.hpp"
#include "modelgif/error.hpp"
#include "modelgif/target.hpp"
#include "run/phases.hpp"

namespace modelgif {

RunState::RunState(const RunConfig& config, const RunOptions& options, std::ostream& rank0_log)
    : cfg(config),
      opt(options),
      world(comm::Comm::world()),
      log(world.rank() == 0 ? rank0_log : sink_),
      ckpt(Checkpoint::dir_for(config.output_path)) {}

void RunState::print_notes() {
  std::string mine;
  for (const auto& line : notes) mine += line + "\n";
  notes.clear();
  for (const auto& lines : world.allgather(mine)) log << lines;
}

void place(RunState& run) {
  auto& plan = run.plan;
  plan.rank = run.world.rank(), plan.ranks = run.world.size();
  const comm::Comm local = run.world.split_shared();
  plan.local_rank = local.rank(), plan.local_size = local.size();
  run.summary.ranks = plan.ranks;
  comm::collective(run.world, [&] {
    run.device = resolve_device(run.cfg.device, plan.local_rank);
    run.summary.threads = set_threads(run.cfg.threads, plan.local_size);
  });
  run.summary.device = run.device.str();
  run.placement =
      run.world.allgather("rank " + std::to_string(plan.rank) + " on " + comm::processor_name() + " (local rank " +
                          std::to_string(plan.local_rank) + " of " + std::to_string(plan.local_size) +
                          "): " + run.summary.device + ", " + std::to_string(run.summary.threads) + " threads");
}

void load_inputs(RunState& run) {
  const RunConfig& cfg = run.cfg;
  comm::collective(run.world, [&] {
    run.refs = load_references(cfg.refs);
    if (cfg.field.target.needs_labels() && !run.refs.labels.defined())
      throw_usage("field.target label needs labels: set references.labels (no labels found for " + cfg.refs.source +
                  ")");
    run.baselines = make_baselines(cfg.baseline, run.refs.images);
  });
  auto& plan = run.plan;
  plan.M = static_cast<int64_t>(cfg.zoo.size());
  plan.N = run.refs.images.size(0);
  plan.block = cfg.block;
  plan.B = (plan.N + cfg.block - 1) / cfg.block;
  for (const auto& z : cfg.zoo) plan.names.push_back(z.name);
  run.summary.references = plan.N;
  run.summary.names = plan.names;
  run.summary.metrics = cfg.metrics;

  // Model identities: rank 0 hashes the files, everyone gets the keys.
  std::string hashes;
  comm::collective(run.world, [&] {
    if (plan.rank == 0)
      for (const auto& z : cfg.zoo) hashes += model_file_hash(z) + "\n";
  });
  hashes = run.world.bcast(hashes);
  std::istringstream in(hashes);
  for (const auto& z : cfg.zoo) {
    std::string h;
    std::getline(in, h);
    plan.keys.push_back(z.name + "@" + h);
  }
}

void plan_work(RunState& run) {
  auto& plan = run.plan;
  Grid grid;
  comm::collective(run.world, [&] { grid = choose_grid(run.cfg.grid, plan.ranks, plan.M, plan.B); });
  plan.assign(grid);
  run.summary.grid = grid.str();
  const FieldEngine shape(run.cfg.field, 1, run.device);
  plan.S = shape.kept_steps();
  plan.D = shape.features(run.refs.shape());
}

namespace {

// The target fits the model's output on a trial reference, and every label
// (target: label) is one of its classes: found here, before any field work.
void check_target(const RunState& run, const std::string& model, const at::Tensor& out) {
  const Target& target = run.cfg.field.target;
  const at::Tensor& labels = run.refs.labels;
  target_mask(target, out, labels.defined() ? labels.slice(0, 0, 1) : labels, model);
  if (target.kind != Target::Kind::Label) return;
  const int64_t classes = out.size(1);
  const at::Tensor bad = labels.lt(0).logical_or(labels.ge(classes)).nonzero();
  if (bad.numel() == 0) return;
  const int64_t i = bad[0][0].item<int64_t>();
  throw_input("references.labels: reference " + std::to_string(run.refs.indices[static_cast<size_t>(i)]) +
              " has label " + std::to_string(labels[i].item<int64_t>()) + ", out of range for model '" + model +
              "' with " + std::to_string(classes) + " classes");
}

}  // namespace

void load_models(RunState& run) {
  const auto& plan = run.plan;
  comm::collective(run.world, [&] {
    for (int64_t m = plan.model_lo; m < plan.model_hi; ++m) {
      Model model(run.cfg.zoo[static_cast<size_t>(m)], run.device);
      check_target(run, model.name(), model.probe(run.refs.images.slice(0, 0, 1)));
      run.models.emplace(m, std::move(model));
    }
  });
  const auto s = run.refs.shape();
  run.log << "modelgif: " << plan.M << " models, " << plan.N << " references " << s[0] << "x" << s[1] << "x" << s[2]
          << " in " << plan.B << " blocks of " << run.cfg.block << ", " << run.cfg.field.steps << " steps ("
          << to_string(run.cfg.field.rule) << "), target " << run.cfg.field.target.str() << ", field " << plan.S << "x"
          << plan.D << " per reference\n";
  run.log << "grid " << plan.grid.str() << " (" << plan.grid.groups << " model groups x " << plan.grid.shards
          << " reference shards) on " << plan.ranks << " rank" << (plan.ranks > 1 ? "s" : "")
          << (plan.grid.used() < plan.ranks ? " (" + std::to_string(plan.ranks - plan.grid.used()) + " idle)" : "")
          << "\n";
  for (const auto& p : run.placement) run.log << "  " << p << "\n";
  run.log << "  " << keep_freed_memory() << "\n";
}

}  // namespace modelgif
