// Pictures as standalone SVG (text, not images: readable in any browser, and
// diffable): the distance matrix as a heatmap, the zoo's similarity tree, and
// a line chart (AUC against the number of references).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "modelgif/stats.hpp"

namespace modelgif {

std::string heatmap_svg(const std::vector<std::string>& names, const std::vector<double>& matrix,
                        const std::string& title);
std::string dendrogram_svg(const std::vector<std::string>& names, const std::vector<Merge>& merges,
                           const std::string& title);
// Series of (x, y) points; x on a log2 axis when `log2_x`.
std::string line_chart_svg(const std::map<std::string, std::vector<std::pair<double, double>>>& series,
                           const std::string& title, const std::string& x_label, const std::string& y_label,
                           bool log2_x, double y_min, double y_max);

}  // namespace modelgif
