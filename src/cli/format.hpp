// Text tables for the terminal.
#pragma once

#include <string>
#include <vector>

namespace modelgif::cli {

// Aligned table of an M x M matrix with the models' full names.
std::string format_matrix(const std::vector<std::string>& names, const std::vector<double>& m, int precision = 4);

}  // namespace modelgif::cli
