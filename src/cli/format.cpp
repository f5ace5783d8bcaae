#include "cli/format.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "base/text.hpp"
#include "modelgif/error.hpp"

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

namespace {

std::string markdown_cell(const std::string& s) {
  std::string o;
  for (const char c : s) o += c == '|' ? std::string("\\|") : std::string(1, c);
  return o;
}

}  // namespace

std::string format_matrices(const std::vector<std::string>& names, const std::vector<std::string>& metrics,
                            const std::vector<const std::vector<double>*>& matrices, const std::string& format,
                            int precision) {
  const size_t M = names.size();
  std::ostringstream s;
  if (format == "table") {
    for (size_t i = 0; i < metrics.size(); ++i)
      s << (i ? "\n" : "") << metrics[i] << " distance:\n" << format_matrix(names, *matrices[i], precision);
  } else if (format == "csv") {
    s << "metric,model_a,model_b,distance\n";
    for (size_t i = 0; i < metrics.size(); ++i)
      for (size_t a = 0; a < M; ++a)
        for (size_t b = 0; b < M; ++b) s << csv_row({metrics[i], names[a], names[b], exact((*matrices[i])[a * M + b])});
  } else if (format == "json") {
    s << "{\"models\": [";
    for (size_t a = 0; a < M; ++a) s << (a ? ", " : "") << json_string(names[a]);
    s << "], \"metrics\": {";
    for (size_t i = 0; i < metrics.size(); ++i) {
      s << (i ? ", " : "") << json_string(metrics[i]) << ": [";
      for (size_t a = 0; a < M; ++a) {
        s << (a ? ", [" : "[");
        for (size_t b = 0; b < M; ++b) s << (b ? ", " : "") << exact((*matrices[i])[a * M + b]);
        s << "]";
      }
      s << "]";
    }
    s << "}}\n";
  } else if (format == "markdown") {
    for (size_t i = 0; i < metrics.size(); ++i) {
      s << (i ? "\n" : "") << "**" << metrics[i] << " distance**\n\n| |";
      for (const auto& n : names) s << " " << markdown_cell(n) << " |";
      s << "\n|---|";
      for (size_t b = 0; b < M; ++b) s << "---:|";
      s << "\n";
      for (size_t a = 0; a < M; ++a) {
        s << "| " << markdown_cell(names[a]) << " |";
        for (size_t b = 0; b < M; ++b)
          s << " " << std::fixed << std::setprecision(precision) << (*matrices[i])[a * M + b] << " |";
        s << "\n";
      }
    }
  } else {
    throw_usage("show: --format must be table, csv, json or markdown, got '" + format + "'");
  }
  return s.str();
}

}  // namespace modelgif::cli
