// The phases before any field work: placement, inputs, plan, models.
#include <ATen/ATen.h>

#include <sstream>

#include "base/allocator.hpp"
#include "modelgif/error.hpp"
#include "modelgif/target.hpp"
#include "run/phases.hpp"

namespace modelgif {

RunLog::RunLog(const comm::Comm& world, std::ostream& rank0) : world_(world), out_(world.rank() == 0 ? rank0 : sink_) {}

void RunLog::print_notes() {
  std::string mine;
  for (const auto& line : notes_) mine += line + "\n";
  notes_.clear();
  for (const auto& lines : world_.allgather(mine)) out_ << lines;
}

Placement place(const RunContext& run) {
  Placement p;
  const comm::Comm local = run.world.split_shared();
  p.local_rank = local.rank(), p.local_size = local.size();
  comm::collective(run.world, [&] {
    p.device = resolve_device(run.cfg.device, p.local_rank);
    keep_float32_exact();
    p.threads = set_threads(run.cfg.threads, p.local_size);
  });
  p.lines = run.world.allgather("rank " + std::to_string(run.world.rank()) + " on " + comm::processor_name() +
                                " (local rank " + std::to_string(p.local_rank) + " of " + std::to_string(p.local_size) +
                                "): " + p.device.str() + ", " + std::to_string(p.threads) + " threads");
  return p;
}

Inputs load_inputs(const RunContext& run) {
  const RunConfig& cfg = run.cfg;
  Inputs in;
  comm::collective(run.world, [&] {
    in.refs = load_references(cfg.refs);
    if (cfg.field.target.needs_labels() && !in.refs.labels.defined())
      throw_usage("field.target label needs labels: set references.labels (no labels found for " + cfg.refs.source +
                  ")");
    in.baselines = make_baselines(cfg.baseline, in.refs.images);
  });
  // Model identities: rank 0 hashes the files, everyone gets them.
  std::string hashes;
  comm::collective(run.world, [&] {
    if (run.world.rank() == 0)
      for (const auto& z : cfg.zoo) hashes += model_file_hash(z) + "\n";
  });
  hashes = run.world.bcast(hashes);
  std::istringstream lines(hashes);
  for (const auto& z : cfg.zoo) {
    std::string h;
    std::getline(lines, h);
    in.models.push_back({z.name, h});
  }
  return in;
}

Plan plan_work(const RunContext& run, const Placement& where, const Inputs& in) {
  Plan plan;
  plan.rank = run.world.rank(), plan.ranks = run.world.size();
  plan.local_rank = where.local_rank, plan.local_size = where.local_size;
  plan.M = static_cast<int64_t>(run.cfg.zoo.size());
  plan.N = in.refs.images.size(0);
  plan.block = run.cfg.block;
  plan.B = (plan.N + run.cfg.block - 1) / run.cfg.block;
  for (const auto& z : run.cfg.zoo) plan.names.push_back(z.name);
  plan.ids = in.models;
  Grid grid;
  comm::collective(run.world, [&] { grid = choose_grid(run.cfg.grid, plan.ranks, plan.M, plan.B); });
  plan.assign(grid);
  const FieldEngine shape(run.cfg.field, 1, where.device);
  plan.S = shape.kept_steps();
  plan.D = shape.features(in.refs.shape());
  return plan;
}

namespace {

// The target fits the model's output on a trial reference, and every label
// (target: label) is one of its classes: found here, before any field work.
void check_target(const RunContext& run, const Inputs& in, const std::string& model, const at::Tensor& out) {
  const Target& target = run.cfg.field.target;
  const at::Tensor& labels = in.refs.labels;
  target_mask(target, out, labels.defined() ? labels.slice(0, 0, 1) : labels, model);
  if (target.kind != Target::Kind::Label) return;
  const int64_t classes = out.size(1);
  const at::Tensor bad = labels.lt(0).logical_or(labels.ge(classes)).nonzero();
  if (bad.numel() == 0) return;
  const int64_t i = bad[0][0].item<int64_t>();
  throw_input("references.labels: reference " + std::to_string(in.refs.indices[static_cast<size_t>(i)]) +
              " has label " + std::to_string(labels[i].item<int64_t>()) + ", out of range for model '" + model +
              "' with " + std::to_string(classes) + " classes");
}

}  // namespace

Models load_models(const RunContext& run, const Plan& plan, const Placement& where, const Inputs& in) {
  Models models;
  comm::collective(run.world, [&] {
    for (int64_t m = plan.model_lo; m < plan.model_hi; ++m) {
      Model model(run.cfg.zoo[static_cast<size_t>(m)], where.device);
      check_target(run, in, model.name(), model.probe(in.refs.images.slice(0, 0, 1)));
      models.emplace(m, std::move(model));
    }
  });
  const auto s = in.refs.shape();
  std::ostream& log = run.log.out();
  log << "modelgif: " << plan.M << " models, " << plan.N << " references " << s[0] << "x" << s[1] << "x" << s[2]
      << " in " << plan.B << " blocks of " << run.cfg.block << ", " << run.cfg.field.steps << " steps ("
      << to_string(run.cfg.field.rule) << "), target " << run.cfg.field.target.str() << ", field " << plan.S << "x"
      << plan.D << " per reference\n";
  log << "grid " << plan.grid.str() << " (" << plan.grid.groups << " model groups x " << plan.grid.shards
      << " reference shards) on " << plan.ranks << " rank" << (plan.ranks > 1 ? "s" : "")
      << (plan.grid.used() < plan.ranks ? " (" + std::to_string(plan.ranks - plan.grid.used()) + " idle)" : "") << "\n";
  for (const auto& p : where.lines) log << "  " << p << "\n";
  log << "  " << keep_freed_memory() << "\n";
  return models;
}

std::vector<SumKind> sum_kinds(const RunConfig& cfg) {
  std::vector<SumKind> kinds = {SumKind::Plain};
  if (cfg.wants(Metric::CosineStandardized)) kinds.push_back(SumKind::Standardized);
  return kinds;
}

}  // namespace modelgif
