#include "modelgif/pipeline.hpp"

#include <ATen/ATen.h>
#include <torch/version.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <ctime>
#include <memory>

#include "modelgif/distance.hpp"
#include "modelgif/error.hpp"
#include "modelgif/output.hpp"
#include "modelgif/refs.hpp"
#include "modelgif/version.hpp"
#include "modelgif/zoo.hpp"

namespace modelgif {
namespace {

std::string now_iso() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

bool wants(const RunConfig& cfg, Metric m) {
  for (auto x : cfg.metrics)
    if (x == m) return true;
  return false;
}

}  // namespace

RunSummary run_pipeline(const RunConfig& cfg, std::ostream& log) {
  RunSummary sum;
  sum.threads = set_threads(cfg.threads);
  const c10::Device device = resolve_device(cfg.device);
  sum.device = device.str();

  const ReferenceSet refs = load_references(cfg.refs);
  if (cfg.field.target.needs_labels() && !refs.labels.defined())
    throw_usage("field.target label needs labels: set references.labels (no labels found for " + cfg.refs.source + ")");
  const at::Tensor baselines = make_baselines(cfg.baseline, refs.images);
  const int64_t N = refs.images.size(0);
  sum.references = N;

  std::vector<Model> models = load_zoo(cfg.zoo, device);
  const int64_t M = static_cast<int64_t>(models.size());
  for (const auto& m : models) {
    m.check_accepts(refs.shape());
    sum.names.push_back(m.name());
  }
  sum.metrics = cfg.metrics;

  int64_t max_points = cfg.max_points;
  if (max_points == 0) {
    double rate = 0;
    max_points = tune_max_points(models.front().fn(), refs.images.slice(0, 0, 1), device,
                                 device.is_cuda() ? 8192 : 1024, &rate);
    log << "run.max_points: tuned to " << max_points << " (" << static_cast<int64_t>(rate) << " points/s on model '"
        << models.front().name() << "')\n";
  }
  const FieldEngine engine(cfg.field, max_points, device);
  const int64_t S = engine.kept_steps(), D = engine.features(refs.shape());
  log << "modelgif: " << M << " models, " << N << " references " << refs.shape()[0] << "x" << refs.shape()[1] << "x"
      << refs.shape()[2] << ", " << cfg.field.steps << " steps (" << to_string(cfg.field.rule) << "), target "
      << cfg.field.target.str() << ", field " << S << "x" << D << " per reference; device " << sum.device << ", "
      << sum.threads << " threads\n";

  FieldFile out(cfg.output_path);
  h5::write_strings(out.id(), "/models/names", sum.names);
  if (cfg.store_fields) out.create_fields(sum.names, N, S, D, cfg.half_fields);

  // cosine_standardized needs a second pass over the fields, after their
  // feature moments are known: keep them in the output (float32) or in scratch.
  const bool standardized = wants(cfg, Metric::CosineStandardized);
  std::unique_ptr<FieldFile> scratch;
  FieldFile* field_store = nullptr;
  if (standardized) {
    if (cfg.store_fields && !cfg.half_fields) {
      field_store = &out;
    } else {
      scratch = std::make_unique<FieldFile>(cfg.output_path + ".scratch");
      scratch->create_fields(sum.names, N, S, D, false);
      field_store = scratch.get();
    }
  }

  DistanceAccumulator acc(M);
  std::vector<FeatureMoments> moments(static_cast<size_t>(M), FeatureMoments(D));
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t blocks = (N + cfg.block - 1) / cfg.block;
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t lo = blk * cfg.block, hi = std::min(N, lo + cfg.block);
    const at::Tensor x = refs.images.slice(0, lo, hi), b = baselines.slice(0, lo, hi);
    const at::Tensor y = refs.labels.defined() ? refs.labels.slice(0, lo, hi) : at::Tensor();
    std::vector<at::Tensor> fields;  // one block per model: all we hold
    for (const auto& m : models) {
      fields.push_back(engine.compute(m.fn(), m.name(), x, b, y, lo));
      if (cfg.store_fields) out.write_field_block(m.name(), lo, fields.back());
      if (standardized) {
        moments[fields.size() - 1].add(fields.back());
        if (field_store != &out) field_store->write_field_block(m.name(), lo, fields.back());
      }
    }
    for (int64_t a = 0; a < M; ++a)
      for (int64_t c = a + 1; c < M; ++c) acc.add_pair(a, c, fields[static_cast<size_t>(a)], fields[static_cast<size_t>(c)]);
    sum.points += M * (hi - lo) * cfg.field.steps;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    log << "block " << blk + 1 << "/" << blocks << ": references " << lo << ".." << hi - 1 << ", "
        << static_cast<int64_t>(static_cast<double>(sum.points) / std::max(secs, 1e-9)) << " points/s\n";
  }

  DistanceAccumulator std_acc(M);
  if (standardized) {
    for (int64_t lo = 0; lo < N; lo += cfg.block) {
      const int64_t n = std::min(cfg.block, N - lo);
      std::vector<at::Tensor> z;
      for (int64_t m = 0; m < M; ++m)
        z.push_back(moments[static_cast<size_t>(m)].standardize(
            field_store->read_field_block(sum.names[static_cast<size_t>(m)], lo, n)));
      for (int64_t a = 0; a < M; ++a)
        for (int64_t c = a + 1; c < M; ++c) std_acc.add_pair(a, c, z[static_cast<size_t>(a)], z[static_cast<size_t>(c)]);
    }
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const hsize_t mm[2] = {static_cast<hsize_t>(M), static_cast<hsize_t>(M)};
  for (auto metric : cfg.metrics) {
    auto mat = metric == Metric::CosineStandardized ? std_acc.matrix(Metric::Cosine) : acc.matrix(metric);
    h5::write(out.id(), "/distance/" + to_string(metric), h5::Type::F64, {mm[0], mm[1]}, mat.data());
    sum.matrices.push_back(std::move(mat));
  }
  const auto zero = acc.zero_norm_rows();
  h5::write(out.id(), "/diagnostics/zero_norm_rows", h5::Type::I64, {mm[0], mm[1]}, zero.data());
  h5::write(out.id(), "/references/indices", h5::Type::I64, {static_cast<hsize_t>(N)}, refs.indices.data());
  if (refs.labels.defined()) {
    const at::Tensor l = refs.labels.to(at::kLong).contiguous();
    h5::write(out.id(), "/references/labels", h5::Type::I64, {static_cast<hsize_t>(N)}, l.data_ptr<int64_t>());
  }
  const std::string root = "/";
  h5::set_attr(out.id(), root, "config", cfg.resolved_yaml);
  h5::set_attr(out.id(), root, "modelgif_version", std::string(kVersion));
  h5::set_attr(out.id(), root, "libtorch_version", std::string(TORCH_VERSION));
  h5::set_attr(out.id(), root, "hdf5_version", h5::library_version());
  h5::set_attr(out.id(), root, "yaml_cpp_version", std::string(MODELGIF_YAML_CPP_VERSION));
  h5::set_attr(out.id(), root, "boost_version", std::string(MODELGIF_BOOST_VERSION));
  h5::set_attr(out.id(), root, "created", now_iso());
  h5::set_attr(out.id(), root, "device", sum.device);
  h5::set_attr(out.id(), root, "references", N);
  h5::set_attr(out.id(), root, "steps_kept", S);
  h5::set_attr(out.id(), root, "features", D);
  h5::set_attr(out.id(), root, "points", sum.points);
  out.commit();
  log << "wrote " << cfg.output_path << " (" << sum.points << " points in " << sum.seconds << " s, "
      << static_cast<int64_t>(static_cast<double>(sum.points) / std::max(sum.seconds, 1e-9)) << " points/s)\n";
  return sum;
}

}  // namespace modelgif
