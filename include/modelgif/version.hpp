#pragma once

namespace modelgif {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace modelgif
