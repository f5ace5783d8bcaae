// Phases 8 and 9: the matrices and the result file.
#include <ATen/ATen.h>
#include <torch/version.h>

#include <ctime>
#include <map>

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
void write_fields(const Plan& plan, const std::string& fingerprint, const CheckpointStore& store, bool half,
                  ResultWriter& out) {
  out.create_fields(plan.names, plan.N, plan.S, plan.D, half);
  const int64_t rounds = (plan.B + plan.grid.shards - 1) / plan.grid.shards;
  for (int64_t m = 0; m < plan.M; ++m)
    for (int64_t r = 0; r < rounds; ++r) {
      const bool mine = plan.active() && plan.owns(m) && r < static_cast<int64_t>(plan.blocks.size());
      const int64_t k = mine ? plan.blocks[static_cast<size_t>(r)] : 0;
      const auto [lo, hi] = plan.block_range(k);
      const std::string& name = plan.names[static_cast<size_t>(m)];
      out.write_field_block(
          name, mine ? lo : 0,
          mine ? store.read_shard(shard_id(fingerprint, plan.ids[static_cast<size_t>(m)], k, hi - lo)) : at::Tensor());
    }
}

// float16 fields are stored as the user asked only when they fit: a value
// beyond float16's range would become Inf. Found before the file is made,
// from the shards' headers (each records its largest magnitude).
void check_half_range(const RunContext& run, const Plan& plan, const std::string& fingerprint,
                      const CheckpointStore& store) {
  constexpr double kHalfMax = 65504.0;
  comm::collective(run.world, [&] {
    if (!plan.active()) return;
    for (const int64_t k : plan.blocks)
      for (int64_t m = plan.model_lo; m < plan.model_hi; ++m) {
        const auto [lo, hi] = plan.block_range(k);
        const double peak = store.shard_peak(shard_id(fingerprint, plan.ids[static_cast<size_t>(m)], k, hi - lo));
        if (peak > kHalfMax)
          throw_input("output.field_dtype float16 cannot hold the fields of model '" +
                      plan.names[static_cast<size_t>(m)] + "': they reach " + std::to_string(peak) +
                      " (float16's largest value is 65504); store them as float32 " +
                      "(--output.field_dtype float32: the checkpoint keeps every field, nothing is recomputed)");
      }
  });
}

}  // namespace

Matrices compute_matrices(const RunContext& run, const Plan& plan, const std::string& fingerprint,
                          const CheckpointStore& store) {
  const RunConfig& cfg = run.cfg;
  Matrices out;
  out.per_metric.resize(cfg.metrics.size());
  out.zero_norm_rows.assign(static_cast<size_t>(plan.M * plan.M), 0);
  comm::collective(run.world, [&] {
    if (plan.rank != 0) return;
    // The sums of every block, added in block order: the matrices do not depend on the ranks.
    std::map<SumKind, DistanceAccumulator> acc;
    for (const SumKind kind : sum_kinds(cfg)) {
      DistanceAccumulator& a = acc.emplace(kind, DistanceAccumulator(plan.M)).first->second;
      for (int64_t k = 0; k < plan.B && plan.M > 1; ++k) {  // one model has no pairs
        std::string problem;
        const auto sums = store.read_sums(kind, k, fingerprint, &problem);
        if (!sums)
          throw_input(problem.empty() ? "no pair sums of block " + std::to_string(k) + " in " + store.dir()
                                      : problem + "; rerun to compute its pairs again");
        const std::string missing = sums->add_to(a, plan.ids);
        if (!missing.empty()) throw_internal("no pair sums of block " + std::to_string(k) + " for " + missing);
      }
    }
    const DistanceAccumulator& plain = acc.at(SumKind::Plain);
    for (size_t i = 0; i < cfg.metrics.size(); ++i)
      out.per_metric[i] = cfg.metrics[i] == Metric::CosineStandardized
                              ? acc.at(SumKind::Standardized).matrix(Metric::Cosine)
                              : plain.matrix(cfg.metrics[i]);
    out.zero_norm_rows = plain.zero_norm_rows();
  });
  for (auto& m : out.per_metric) {
    m.resize(static_cast<size_t>(plan.M * plan.M));
    run.world.bcast(m);
  }
  return out;
}

void write_result(const RunContext& run, const Plan& plan, const ResultFacts& facts, const Matrices& matrices,
                  const CheckpointStore& store) {
  const RunConfig& cfg = run.cfg;
  RunRecord record;
  record.models = plan.M;
  record.zero_norm_rows = matrices.zero_norm_rows;
  record.reference_indices = facts.in.refs.indices;
  for (const auto& id : plan.ids) record.model_hashes.push_back(id.hash);
  if (facts.in.refs.labels.defined()) {
    const at::Tensor l = facts.in.refs.labels.to(at::kLong).contiguous();
    record.labels.assign(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
  }
  std::string placement;
  for (const auto& p : facts.where.lines) placement += p + "\n";
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
                 {"precision", precision_name(facts.num.numerics.dtype)},
                 {"memory_format", memory_format_name(facts.num.numerics.format)},
                 {"fingerprint", facts.rec.fingerprint}};
  record.numbers = {{"ranks", plan.ranks},
                    {"references", plan.N},
                    {"steps_kept", plan.S},
                    {"features", plan.D},
                    {"max_points", facts.num.tuning.max_points},
                    {"points", facts.points}};
  RunResult result{plan.names, {}, matrices.per_metric, cfg.resolved_yaml};
  for (const auto m : cfg.metrics) result.metrics.push_back(to_string(m));
  if (cfg.store_fields && cfg.half_fields) check_half_range(run, plan, facts.rec.fingerprint, store);
  // Not wrapped in collective(): a failure inside HDF5's collective calls
  // cannot be agreed on; the CLI aborts the job instead (MPI_Abort).
  ResultWriter out(cfg.output_path, &run.world);
  if (cfg.store_fields) write_fields(plan, facts.rec.fingerprint, store, cfg.half_fields, out);
  out.write_matrices("/", result);
  out.write_record(record);
  out.commit();
  // checkpoint.fields: none keeps no shards (written only as the result's source, or by an earlier run).
  if (cfg.checkpoint_fields == CheckpointFields::None) comm::on_root(&run.world, [&] { store.remove_shards(); });
  run.log.out() << "wrote " << cfg.output_path << " (checkpoint " << store.dir() << ")\n";
}

}  // namespace modelgif
