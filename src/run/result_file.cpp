#include "run/result_file.hpp"

#include <ATen/ATen.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "modelgif/error.hpp"

namespace fs = std::filesystem;

namespace modelgif {

FieldFile::FieldFile(std::string path, const comm::Comm* comm) : comm_(comm), path_(std::move(path)) {
  int64_t pid = ::getpid();
  if (comm_) {
    rank_ = comm_->rank();
    pid = comm_->bcast(pid);
  }
  tmp_ = path_ + ".tmp-" + std::to_string(pid);
  std::error_code ec;
  const auto parent = fs::path(path_).parent_path();
  if (rank_ == 0 && !parent.empty()) fs::create_directories(parent, ec);
  if (ec) throw_input("output " + path_ + ": cannot create folder " + parent.string() + ": " + ec.message());
  if (comm_) comm_->barrier();
  try {
    file_ = comm_ ? h5::File::create_parallel(tmp_, comm_->get()) : h5::File::create(tmp_);
  } catch (const StoreError& e) {
    throw_input("output " + path_ + ": cannot create " + tmp_ + " (is the folder writable?)");
  }
}

FieldFile::~FieldFile() {
  if (committed_) return;
  if (comm_ && comm_->size() > 1 && std::uncaught_exceptions() > 0) {
    // Unwinding on one rank: closing is collective and would hang; the CLI
    // aborts the job (MPI_Abort) and the temporary file stays unrenamed.
    file_.abandon();
    return;
  }
  try {
    file_.close();
  } catch (...) {  // a destructor never throws; the file is removed anyway
  }
  std::error_code ec;
  if (rank_ == 0) fs::remove(tmp_, ec);
}

void FieldFile::create_fields(const std::vector<std::string>& names, int64_t n, int64_t steps, int64_t features,
                              bool half) {
  half_ = half;
  steps_ = steps, features_ = features;
  for (const auto& name : names)
    h5::create_dataset(id(), "/fields/" + name, half ? h5::Type::F16 : h5::Type::F32,
                       {static_cast<hsize_t>(n), static_cast<hsize_t>(steps), static_cast<hsize_t>(features)});
}

void FieldFile::write_field_block(const std::string& name, int64_t offset, const at::Tensor& block) {
  const at::Tensor b = block.defined() ? block.to(at::kCPU, half_ ? at::kHalf : at::kFloat).contiguous()
                                       : at::empty({0, steps_, features_}, half_ ? at::kHalf : at::kFloat);
  h5::write_slab(id(), "/fields/" + name, half_ ? h5::Type::F16 : h5::Type::F32,
                 {static_cast<hsize_t>(offset), 0, 0},
                 {static_cast<hsize_t>(b.size(0)), static_cast<hsize_t>(b.size(1)), static_cast<hsize_t>(b.size(2))},
                 b.data_ptr(), transfer());
}

at::Tensor FieldFile::read_field_block(const std::string& name, int64_t offset, int64_t count) const {
  const auto d = h5::dims(id(), "/fields/" + name);
  auto v = h5::read_slab_f32(id(), "/fields/" + name, {static_cast<hsize_t>(offset), 0, 0},
                             {static_cast<hsize_t>(count), d[1], d[2]});
  return at::tensor(v, at::kFloat).view({count, static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2])});
}

void FieldFile::commit() {
  file_.close();
  if (comm_) comm_->barrier();  // every rank's data is in the file
  std::string failure;
  if (rank_ == 0) {
    // fsync the data before the rename makes it visible under its final name.
    if (FILE* f = std::fopen(tmp_.c_str(), "rb")) {
      ::fsync(fileno(f));
      std::fclose(f);
    }
    std::error_code ec;
    fs::rename(tmp_, path_, ec);
    if (ec) failure = "output " + path_ + ": cannot rename " + tmp_ + " into place: " + ec.message();
  }
  if (comm_) failure = comm_->bcast(failure);
  if (!failure.empty()) {
    if (rank_ == 0) {
      std::error_code ec;
      fs::remove(tmp_, ec);
    }
    committed_ = true;  // nothing left to clean
    throw InputError(failure);
  }
  committed_ = true;
}

RunResult read_result(const std::string& path) {
  RunResult r;
  try {
    auto f = h5::File::open(path);
    if (!h5::exists(f.id(), "/models/names") || !h5::exists(f.id(), "/distance"))
      throw_input(path + ": not a modelgif result (no /models/names or /distance)");
    r.names = h5::read_strings(f.id(), "/models/names");
    for (const auto& m : h5::list(f.id(), "/distance")) {
      r.metrics.push_back(m);
      r.matrices.push_back(h5::read_f64(f.id(), "/distance/" + m));
    }
    if (h5::has_attr(f.id(), "/", "config")) r.config = h5::get_attr_string(f.id(), "/", "config");
  } catch (const StoreError& e) {
    throw InputError(path + ": cannot read result file: " + e.what());
  }
  return r;
}

at::Tensor read_fields(const std::string& path, const std::string& model) {
  try {
    auto f = h5::File::open(path);
    const std::string ds = "/fields/" + model;
    if (!h5::exists(f.id(), ds)) throw_input(path + ": no fields stored for model '" + model + "'");
    const auto d = h5::dims(f.id(), ds);
    auto v = h5::read_f32(f.id(), ds);
    return at::tensor(v, at::kFloat).view(std::vector<int64_t>(d.begin(), d.end()));
  } catch (const StoreError& e) {
    throw InputError(path + ": cannot read fields of '" + model + "': " + e.what());
  }
}

std::string format_matrix(const std::vector<std::string>& names, const std::vector<double>& m, int precision) {
  size_t w = 0;
  for (const auto& n : names) w = std::max(w, n.size());
  const int cell = std::max<int>(precision + 4, 6);
  size_t col = 0;
  for (const auto& n : names) col = std::max(col, n.size());
  const int cw = std::max<int>(cell, static_cast<int>(col));  // full names: columns must stay unambiguous
  std::ostringstream s;
  s << std::string(w, ' ');
  for (const auto& n : names) s << "  " << std::setw(cw) << n;
  s << "\n";
  const size_t M = names.size();
  for (size_t a = 0; a < M; ++a) {
    s << std::left << std::setw(static_cast<int>(w)) << names[a] << std::right;
    for (size_t b = 0; b < M; ++b) s << "  " << std::setw(cw) << std::fixed << std::setprecision(precision) << m[a * M + b];
    s << "\n";
  }
  return s.str();
}

}  // namespace modelgif
