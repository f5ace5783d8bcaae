// Reading a modelgif result file (HDF5; schema in docs/output.md): model
// names, one distance matrix per metric, the resolved config, stored fields.
// The same layout, under a group, holds each variation of a sweep summary
// (/runs/<variation>/models/names, /runs/<variation>/distance/<metric>).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace modelgif {

struct RunResult {
  std::vector<std::string> names;  // zoo order: rows and columns of every matrix
  std::vector<std::string> metrics;
  std::vector<std::vector<double>> matrices;  // per metric, M x M row-major
  std::string config;                         // resolved config YAML ("" under a group without one)
  int64_t references = 0;                     // N (0 under a group: not recorded there)
};

// Throws InputError naming the file when it is not a modelgif result.
RunResult read_result(const std::string& path, const std::string& group = "/");
// Whether `path` is a readable modelgif result file (names and distances).
bool is_result(const std::string& path);
// Whether a result file stores the fields of `model`.
bool has_fields(const std::string& path, const std::string& model);
// Fields of one model (N x S' x D, float32) from a result file.
at::Tensor read_fields(const std::string& path, const std::string& model);
// Its references [lo, hi) only: (hi - lo) x S' x D.
at::Tensor read_field_rows(const std::string& path, const std::string& model, int64_t lo, int64_t hi);

}  // namespace modelgif
