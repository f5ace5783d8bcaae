// Reading a modelgif result file (HDF5; schema in README "Output"): model
// names, one distance matrix per metric, the resolved config, stored fields.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace modelgif {

// Reads a result file back.
struct RunResult {
  std::vector<std::string> names;
  std::vector<std::string> metrics;
  std::vector<std::vector<double>> matrices;  // per metric, M x M row-major
  std::string config;                         // resolved config YAML
};
RunResult read_result(const std::string& path);
// Fields of one model (N x S' x D, float32) from a result file.
at::Tensor read_fields(const std::string& path, const std::string& model);

// Aligned text table of an M x M matrix with model names.
std::string format_matrix(const std::vector<std::string>& names, const std::vector<double>& m, int precision = 4);

}  // namespace modelgif
