// The pictures of a result file: for each metric a heatmap of the distance
// matrix (clustered: in the similarity tree's leaf order, or in zoo order) and
// the similarity tree (average linkage), as SVG beside the result or in a
// folder, and optionally as PNG rendered by librsvg.
#pragma once

#include <string>
#include <vector>

#include "modelgif/result.hpp"

namespace modelgif {

enum class PictureOrder { Tree, Zoo };
PictureOrder parse_picture_order(const std::string& s);  // "tree" or "zoo"; UsageError otherwise

struct PictureOptions {
  std::string folder;  // "" = beside the result
  PictureOrder order = PictureOrder::Tree;
  bool png = false;  // also RESULT-*.png, rendered from the SVG at twice its size
};

// RESULT.h5 -> RESULT (beside it) or FOLDER/RESULT (the folder is made).
std::string picture_stem(const std::string& result_path, const std::string& folder);
// STEM-heatmap-METRIC.svg and STEM-tree-METRIC.svg (and .png); returns the paths.
std::vector<std::string> write_metric_pictures(const std::string& stem, const std::string& result_path,
                                               const std::vector<std::string>& names, const std::vector<double>& matrix,
                                               const std::string& metric, const PictureOptions& options);
// PATH.svg, and PATH.png when `options.png`; appends the files written to `paths`.
void write_picture(const std::string& path, const std::string& svg, const PictureOptions& options,
                   std::vector<std::string>& paths);
// Both pictures for every metric of `result`; returns the paths.
std::vector<std::string> write_result_pictures(const std::string& result_path, const RunResult& result,
                                               const PictureOptions& options);
// Renders SVG text to a PNG file (written atomically) at `scale` times its size.
void svg_to_png(const std::string& svg, const std::string& png_path, double scale = 2.0);

}  // namespace modelgif
