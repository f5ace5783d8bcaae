// Result files. A FieldFile is written under a temporary name beside its final
// path and only renamed into place by commit(), so an interrupted or failed
// run never leaves a file that looks complete. Schema: see README "Output".
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "modelgif/comm.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/result.hpp"

namespace modelgif {

class FieldFile {
 public:
  // Creates "<path>.tmp-<pid>" (and missing parent folders). Throws InputError
  // naming `path` when it cannot be created. With a communicator, all its
  // ranks create one file collectively (parallel HDF5, MPI-IO), named by rank 0's pid.
  explicit FieldFile(std::string path, const comm::Comm* comm = nullptr);
  ~FieldFile();  // removes the temporary file unless committed
  FieldFile(const FieldFile&) = delete;
  FieldFile& operator=(const FieldFile&) = delete;

  hid_t id() const { return file_.id(); }
  hid_t transfer() const { return file_.transfer(); }
  bool writer() const { return rank_ == 0; }  // the rank that writes shared, small datasets
  const std::string& path() const { return path_; }

  // /fields/<name> as N x S' x D datasets (float32 or float16).
  void create_fields(const std::vector<std::string>& names, int64_t n, int64_t steps, int64_t features, bool half);
  // Writes rows [offset, offset + block rows); an undefined block takes part
  // in a collective write without data.
  void write_field_block(const std::string& name, int64_t offset, const at::Tensor& block);
  at::Tensor read_field_block(const std::string& name, int64_t offset, int64_t count) const;

  // Closes, then atomically renames the temporary file to `path` (collective).
  void commit();

 private:
  const comm::Comm* comm_ = nullptr;
  int rank_ = 0;
  int64_t steps_ = 0, features_ = 0;
  std::string path_, tmp_;
  h5::File file_;
  bool half_ = false;
  bool committed_ = false;
};

}  // namespace modelgif
