// Writing result files (the reader is modelgif/result.hpp). A ResultWriter
// writes under the file's temporary name (base/files.hpp) and commit()
// renames it into place, so an interrupted or failed run never leaves a file
// that looks complete. With a communicator, all its ranks write one file
// collectively (parallel HDF5, MPI-IO), named by rank 0's pid. Schema:
// docs/output.md; the sweep summary puts the same matrices under /runs/<variation>.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/files.hpp"
#include "modelgif/comm.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/result.hpp"

namespace modelgif {

// What a run adds to its matrices: diagnostics, references and attributes of "/".
struct RunRecord {
  int64_t models = 0;                       // M
  std::vector<int64_t> zero_norm_rows;      // M x M
  std::vector<int64_t> reference_indices;   // N
  std::vector<int64_t> labels;              // N, or empty
  std::vector<std::string> model_hashes;    // M: each model file's hash (/models/hashes)
  std::map<std::string, std::string> text;  // attributes of "/"
  std::map<std::string, int64_t> numbers;   // attributes of "/"
};

class ResultWriter {
 public:
  // Creates the temporary file (and missing parent folders). Throws InputError
  // naming `path` when it cannot be created.
  explicit ResultWriter(std::string path, const comm::Comm* comm = nullptr);
  ~ResultWriter();  // removes the temporary file unless committed
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  const std::string& path() const { return file_.path(); }
  // GROUP/models/names and GROUP/distance/<metric> (M x M float64); in a
  // parallel file every rank calls with the same shapes, rank 0's data is written.
  void write_matrices(const std::string& group, const RunResult& result);
  // GROUP/<name>: a list of strings.
  void write_strings(const std::string& path, const std::vector<std::string>& values);
  void set_attr(const std::string& object, const std::string& name, const std::string& value);
  void set_attr(const std::string& object, const std::string& name, int64_t value);
  // /diagnostics, /references and the attributes of "/".
  void write_record(const RunRecord& record);

  // /fields/<name> as N x S' x D datasets (float32 or float16).
  void create_fields(const std::vector<std::string>& names, int64_t n, int64_t steps, int64_t features, bool half);
  // Writes rows [offset, offset + block rows); an undefined block takes part
  // in a collective write without data.
  void write_field_block(const std::string& name, int64_t offset, const at::Tensor& block);

  // Closes, then renames the temporary file to its path (collective).
  void commit();

  // The data transfer property of the last writes (collective MPI-IO in a parallel file).
  hid_t transfer() const { return h5_.transfer(); }

 private:
  bool writer() const { return rank_ == 0; }  // the rank that writes shared, small datasets
  const comm::Comm* comm_ = nullptr;
  int rank_ = 0;
  int64_t steps_ = 0, features_ = 0;
  bool half_ = false;
  AtomicFile file_;
  h5::File h5_;
};

}  // namespace modelgif
