// Phases 8 and 9: the matrices and the result file.
#include <ATen/ATen.h>
#include <torch/version.h>

#include <ctime>

#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/version.hpp"
#include "run/phases.hpp"
#include "run/result_file.hpp"

namespace modelgif {
namespace {

std::string now_iso() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Every rank writes its field blocks from its shards. Collective writes go in
// rounds: every rank takes part in each, with or without data.
void write_fields(RunState& run, ResultWriter& out) {
  const Plan& plan = run.plan;
  out.create_fields(plan.names, plan.N, plan.S, plan.D, run.cfg.half_fields);
  const int64_t rounds = (plan.B + plan.grid.shards - 1) / plan.grid.shards;
  for (int64_t m = 0; m < plan.M; ++m)
    for (int64_t r = 0; r < rounds; ++r) {
      const bool mine =
          plan.active() && m >= plan.model_lo && m < plan.model_hi && r < static_cast<int64_t>(plan.blocks.size());
      const int64_t k = mine ? plan.blocks[static_cast<size_t>(r)] : 0;
      const std::string& name = plan.names[static_cast<size_t>(m)];
      out.write_field_block(name, mine ? plan.block_range(k).first : 0,
                            mine ? run.ckpt.read_field(name, k) : at::Tensor());
    }
}

// float16 fields are stored as the user asked only when they fit: a value
// beyond float16's range would become Inf. Found before the file is made.
void check_half_range(RunState& run) {
  const Plan& plan = run.plan;
  constexpr double kHalfMax = 65504.0;
  comm::collective(run.world, [&] {
    if (!plan.active()) return;
    for (const int64_t k : plan.blocks)
      for (int64_t m = plan.model_lo; m < plan.model_hi; ++m) {
        const std::string& name = plan.names[static_cast<size_t>(m)];
        const at::Tensor field = run.ckpt.read_field(name, k);
        const double peak = field.numel() ? field.abs().max().item<double>() : 0.0;
        if (peak > kHalfMax)
          throw_input("output.field_dtype float16 cannot hold the fields of model '" + name + "': they reach " +
                      std::to_string(peak) + " (float16's largest value is 65504); store them as float32 " +
                      "(--output.field_dtype float32: the checkpoint keeps every field, nothing is recomputed)");
      }
  });
}

}  // namespace

Matrices compute_matrices(RunState& run) {
  const Plan& plan = run.plan;
  const RunConfig& cfg = run.cfg;
  Matrices out;
  out.per_metric.resize(cfg.metrics.size());
  out.zero_norm_rows.assign(static_cast<size_t>(plan.M * plan.M), 0);
  comm::collective(run.world, [&] {
    if (plan.rank != 0) return;
    const bool standardized = cfg.wants(Metric::CosineStandardized);
    const DistanceAccumulator acc = gather_pairs("plain", run);
    const DistanceAccumulator std_acc = standardized ? gather_pairs("standardized", run) : DistanceAccumulator(plan.M);
    for (size_t i = 0; i < cfg.metrics.size(); ++i)
      out.per_metric[i] =
          cfg.metrics[i] == Metric::CosineStandardized ? std_acc.matrix(Metric::Cosine) : acc.matrix(cfg.metrics[i]);
    out.zero_norm_rows = acc.zero_norm_rows();
  });
  for (auto& m : out.per_metric) {
    m.resize(static_cast<size_t>(plan.M * plan.M));
    run.world.bcast(m);
  }
  run.summary.matrices = out.per_metric;
  return out;
}

void write_result(RunState& run, const Matrices& matrices) {
  const Plan& plan = run.plan;
  const RunConfig& cfg = run.cfg;
  RunRecord record;
  record.models = plan.M;
  record.zero_norm_rows = matrices.zero_norm_rows;
  record.reference_indices = run.refs.indices;
  for (const auto& key : plan.keys) record.model_hashes.push_back(key.substr(key.rfind('@') + 1));
  if (run.refs.labels.defined()) {
    const at::Tensor l = run.refs.labels.to(at::kLong).contiguous();
    record.labels.assign(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
  }
  std::string placement;
  for (const auto& p : run.placement) placement += p + "\n";
  record.text = {{"config", cfg.resolved_yaml},
                 {"modelgif_version", kVersion},
                 {"libtorch_version", TORCH_VERSION},
                 {"hdf5_version", h5::library_version()},
                 {"mpi_version", comm::library_version()},
                 {"yaml_cpp_version", MODELGIF_YAML_CPP_VERSION},
                 {"boost_version", MODELGIF_BOOST_VERSION},
                 {"created", run.world.bcast(now_iso())},
                 {"placement", placement},
                 {"grid", plan.grid.str()},
                 {"precision", precision_name(run.numerics.dtype)},
                 {"memory_format", memory_format_name(run.numerics.format)},
                 {"fingerprint", plan.fingerprint}};
  record.numbers = {{"ranks", plan.ranks}, {"references", plan.N},         {"steps_kept", plan.S},
                    {"features", plan.D},  {"max_points", run.max_points}, {"points", run.summary.points}};
  RunResult result{plan.names, {}, matrices.per_metric, cfg.resolved_yaml};
  for (const auto m : cfg.metrics) result.metrics.push_back(to_string(m));
  if (cfg.store_fields && cfg.half_fields) check_half_range(run);
  // Not wrapped in collective(): a failure inside HDF5's collective calls
  // cannot be agreed on; the CLI aborts the job instead (MPI_Abort).
  ResultWriter out(cfg.output_path, &run.world);
  if (cfg.store_fields) write_fields(run, out);
  out.write_matrices("/", result);
  out.write_record(record);
  out.commit();
  run.log << "wrote " << cfg.output_path << " (checkpoint " << run.ckpt.dir() << ")\n";
}

}  // namespace modelgif
