#include "cli/format.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace modelgif::cli {

std::string format_matrix(const std::vector<std::string>& names, const std::vector<double>& m, int precision) {
  size_t w = 0;
  for (const auto& n : names) w = std::max(w, n.size());
  // Full names: columns must stay unambiguous.
  const int cw = std::max<int>(std::max<int>(precision + 4, 6), static_cast<int>(w));
  std::ostringstream s;
  s << std::string(w, ' ');
  for (const auto& n : names) s << "  " << std::setw(cw) << n;
  s << "\n";
  const size_t M = names.size();
  for (size_t a = 0; a < M; ++a) {
    s << std::left << std::setw(static_cast<int>(w)) << names[a] << std::right;
    for (size_t b = 0; b < M; ++b)
      s << "  " << std::setw(cw) << std::fixed << std::setprecision(precision) << m[a * M + b];
    s << "\n";
  }
  return s.str();
}

}  // namespace modelgif::cli
