// Text tables for the terminal.
#pragma once

#include <string>
#include <vector>

namespace modelgif::cli {

// Aligned table of an M x M matrix with the models' full names.
std::string format_matrix(const std::vector<std::string>& names, const std::vector<double>& m, int precision = 4);

// The matrices of `metrics` (names as in the result file) for scripts and papers:
//   table     the terminal's aligned tables, `precision` digits;
//   csv       one row per (metric, model a, model b): metric,a,b,distance, every
//             digit a double holds (%.17g), names quoted as RFC 4180 says;
//   json      {"models": [...], "metrics": {"cosine": [[...], ...], ...}}, %.17g;
//   markdown  one pipe table per metric, `precision` digits.
std::string format_matrices(const std::vector<std::string>& names, const std::vector<std::string>& metrics,
                            const std::vector<const std::vector<double>*>& matrices, const std::string& format,
                            int precision);

}  // namespace modelgif::cli
