#include "core/shape.hpp"

namespace modelgif {

std::string shape_str(c10::IntArrayRef shape) {
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "x" : "") + std::to_string(shape[i]);
  return out.empty() ? "scalar" : out;
}

}  // namespace modelgif
