// Shapes in messages: "1x28x28" ("scalar" for a 0-dimensional tensor).
#pragma once

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace modelgif {

std::string shape_str(c10::IntArrayRef shape);

}  // namespace modelgif
