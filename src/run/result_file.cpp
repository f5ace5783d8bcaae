#include "run/result_file.hpp"

#include <ATen/ATen.h>

#include <exception>

#include "modelgif/error.hpp"

namespace modelgif {
namespace {

long shared_pid(const comm::Comm* comm) {
  const long pid = current_pid();
  return comm ? static_cast<long>(comm->bcast(static_cast<int64_t>(pid))) : pid;
}

std::string join(const std::string& group, const std::string& name) {
  return (group == "/" || group.empty() ? "" : group) + "/" + name;
}

}  // namespace

ResultWriter::ResultWriter(std::string path, const comm::Comm* comm)
    : comm_(comm), rank_(comm ? comm->rank() : 0), file_(std::move(path), shared_pid(comm)) {
  if (rank_ != 0) file_.release();  // rank 0 renames or removes the temporary
  comm::on_root(comm_, [&] { ensure_parent_dir(file_.path(), "output " + file_.path()); });
  try {
    h5_ = comm_ ? h5::File::create_parallel(file_.temp(), comm_->get()) : h5::File::create(file_.temp());
  } catch (const StoreError&) {
    throw_input("output " + file_.path() + ": cannot create " + file_.temp() + " (is the folder writable?)");
  }
}

ResultWriter::~ResultWriter() {
  if (comm_ && comm_->size() > 1 && std::uncaught_exceptions() > 0) {
    // Unwinding on one rank: closing is collective and would hang; the CLI
    // aborts the job (MPI_Abort) and the temporary file stays unrenamed.
    h5_.abandon();
    file_.release();
    return;
  }
  try {
    h5_.close();
  } catch (...) {  // a destructor never throws; the temporary is removed anyway
  }
}

void ResultWriter::write_matrices(const std::string& group, const RunResult& r) {
  const hid_t x = transfer();
  const bool w = writer();
  const hsize_t M = r.names.size();
  h5::write_strings(h5_.id(), join(group, "models/names"), r.names, x, w);
  for (size_t i = 0; i < r.metrics.size(); ++i)
    h5::write(h5_.id(), join(group, "distance/" + r.metrics[i]), h5::Type::F64, {M, M}, r.matrices[i].data(), x, w);
}

void ResultWriter::write_strings(const std::string& path, const std::vector<std::string>& values) {
  h5::write_strings(h5_.id(), path, values, transfer(), writer());
}

void ResultWriter::set_attr(const std::string& object, const std::string& name, const std::string& value) {
  h5::set_attr(h5_.id(), object, name, value);
}

void ResultWriter::set_attr(const std::string& object, const std::string& name, int64_t value) {
  h5::set_attr(h5_.id(), object, name, value);
}

void ResultWriter::write_record(const RunRecord& rec) {
  const hid_t x = transfer();
  const bool w = writer();
  const auto M = static_cast<hsize_t>(rec.models);
  h5::write(h5_.id(), "/diagnostics/zero_norm_rows", h5::Type::I64, {M, M}, rec.zero_norm_rows.data(), x, w);
  const hsize_t N = rec.reference_indices.size();
  h5::write(h5_.id(), "/references/indices", h5::Type::I64, {N}, rec.reference_indices.data(), x, w);
  if (!rec.labels.empty()) h5::write(h5_.id(), "/references/labels", h5::Type::I64, {N}, rec.labels.data(), x, w);
  if (!rec.model_hashes.empty()) h5::write_strings(h5_.id(), "/models/hashes", rec.model_hashes, x, w);
  for (const auto& [name, value] : rec.text) h5::set_attr(h5_.id(), "/", name, value);
  for (const auto& [name, value] : rec.numbers) h5::set_attr(h5_.id(), "/", name, value);
}

void ResultWriter::create_fields(const std::vector<std::string>& names, int64_t n, int64_t steps, int64_t features,
                                 bool half) {
  half_ = half;
  steps_ = steps, features_ = features;
  for (const auto& name : names)
    h5::create_dataset(h5_.id(), "/fields/" + name, half ? h5::Type::F16 : h5::Type::F32,
                       {static_cast<hsize_t>(n), static_cast<hsize_t>(steps), static_cast<hsize_t>(features)});
}

void ResultWriter::write_field_block(const std::string& name, int64_t offset, const at::Tensor& block) {
  const at::Tensor b = block.defined() ? block.to(at::kCPU, half_ ? at::kHalf : at::kFloat).contiguous()
                                       : at::empty({0, steps_, features_}, half_ ? at::kHalf : at::kFloat);
  h5::write_slab(h5_.id(), "/fields/" + name, half_ ? h5::Type::F16 : h5::Type::F32,
                 {static_cast<hsize_t>(offset), 0, 0},
                 {static_cast<hsize_t>(b.size(0)), static_cast<hsize_t>(b.size(1)), static_cast<hsize_t>(b.size(2))},
                 b.data_ptr(), transfer());
}

void ResultWriter::commit() {
  h5_.close();
  if (comm_) comm_->barrier();  // every rank's data is in the file
  comm::on_root(comm_, [&] {
    try {
      file_.commit();
    } catch (...) {
      file_.discard();  // no temporary left behind
      throw;
    }
  });
}

RunResult read_result(const std::string& path, const std::string& group) {
  RunResult r;
  auto f = h5::File::open(path);
  if (!h5::exists(f.id(), join(group, "models/names")) || !h5::exists(f.id(), join(group, "distance")))
    throw_input(path + ": not a modelgif result (no " + join(group, "models/names") + " or " + join(group, "distance") +
                ")");
  r.names = h5::read_strings(f.id(), join(group, "models/names"));
  for (const auto& m : h5::list(f.id(), join(group, "distance"))) {
    r.metrics.push_back(m);
    r.matrices.push_back(h5::read_f64(f.id(), join(group, "distance/" + m)));
    if (r.matrices.back().size() != r.names.size() * r.names.size())
      throw_input(path + ": " + join(group, "distance/" + m) + " holds " + std::to_string(r.matrices.back().size()) +
                  " values for " + std::to_string(r.names.size()) + " models (a damaged result file)");
  }
  const std::string object = group.empty() ? "/" : group;
  if (h5::has_attr(f.id(), object, "config")) r.config = h5::get_attr_string(f.id(), object, "config");
  if (h5::exists(f.id(), join(group, "references/indices")))
    r.references = static_cast<int64_t>(h5::dims(f.id(), join(group, "references/indices")).at(0));
  return r;
}

bool is_result(const std::string& path) {
  try {
    auto f = h5::File::open(path);
    return h5::exists(f.id(), "/models/names") && h5::exists(f.id(), "/distance");
  } catch (const StoreError&) {
    return false;
  }
}

bool has_fields(const std::string& path, const std::string& model) {
  auto f = h5::File::open(path);
  return h5::exists(f.id(), "/fields/" + model);
}

at::Tensor read_fields(const std::string& path, const std::string& model) {
  auto f = h5::File::open(path);
  const std::string ds = "/fields/" + model;
  if (!h5::exists(f.id(), ds)) throw_input(path + ": no fields stored for model '" + model + "'");
  const auto d = h5::dims(f.id(), ds);
  auto v = h5::read_f32(f.id(), ds);
  return at::tensor(v, at::kFloat).view(std::vector<int64_t>(d.begin(), d.end()));
}

}  // namespace modelgif

namespace modelgif {

at::Tensor read_field_rows(const std::string& path, const std::string& model, int64_t lo, int64_t hi) {
  auto f = h5::File::open(path);
  const std::string ds = "/fields/" + model;
  if (!h5::exists(f.id(), ds)) throw_input(path + ": no fields stored for model '" + model + "'");
  const auto d = h5::dims(f.id(), ds);
  if (lo < 0 || hi < lo || static_cast<hsize_t>(hi) > d[0])
    throw_input(path + ": fields of '" + model + "' hold " + std::to_string(d[0]) + " references, not " +
                std::to_string(hi));
  const auto v =
      h5::read_slab_f32(f.id(), ds, {static_cast<hsize_t>(lo), 0, 0}, {static_cast<hsize_t>(hi - lo), d[1], d[2]});
  return at::tensor(v, at::kFloat).view({hi - lo, static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2])});
}

}  // namespace modelgif
