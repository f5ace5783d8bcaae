// Pictures as standalone SVG (text, not images: readable in any browser, and
// diffable): the distance matrix as a heatmap, the zoo's similarity tree, and
// a line chart (AUC against the number of references), and a strip of values
// with some of them marked (a suspect's distance among the negatives').
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "modelgif/stats.hpp"

namespace modelgif {

// `order`: the models' order on both axes (a permutation, e.g. the similarity
// tree's leaf order, for a clustered heatmap); empty: zoo order. Cells and
// labels shrink with the zoo (legible from 3 to about 100 models; beyond, every
// k-th label).
std::string heatmap_svg(const std::vector<std::string>& names, const std::vector<double>& matrix,
                        const std::string& title, const std::vector<size_t>& order = {});
std::string dendrogram_svg(const std::vector<std::string>& names, const std::vector<Merge>& merges,
                           const std::string& title);
// Series of (x, y) points; x on a log2 axis when `log2_x`. Each series has its
// own marker and dash and is drawn a few pixels apart, so equal series stay visible.
std::string line_chart_svg(const std::map<std::string, std::vector<std::pair<double, double>>>& series,
                           const std::string& title, const std::string& x_label, const std::string& y_label,
                           bool log2_x, double y_min, double y_max);

// One value on a strip: `label` next to it (marks only), `highlight` in red.
struct StripPoint {
  std::string name;
  double value;
  std::string label;
  bool highlight = false;
};
// `dots` as small circles on one horizontal axis (stacked where they would
// overlap), each of `marks` as a triangle on a row of its own above them with
// its label and a line down to the axis, and a dashed line at `threshold`
// labelled `threshold_label` (none when it is NaN); `note` under the axis.
std::string strip_svg(const std::vector<StripPoint>& dots, const std::vector<StripPoint>& marks,
                      const std::string& title, const std::string& axis_label, const std::string& note,
                      double threshold, const std::string& threshold_label);

}  // namespace modelgif
