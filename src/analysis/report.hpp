// The text of `modelgif eval`'s tables and its pictures: what the paper
// reports, formatted for a terminal (3 decimals) and drawn as SVG.
#pragma once

#include <string>
#include <vector>

#include "analysis/eval.hpp"
#include "analysis/pictures.hpp"
#include "modelgif/result.hpp"

namespace modelgif {

std::string format_fingerprinting(const Roles& roles, const std::string& metric,
                                  const std::vector<FingerprintRow>& rows);
std::string format_selection(const SelectionReport& report);
std::string format_unlearning(const Roles& roles, const std::string& metric, const UnlearningReport& report);
// The suspects' and candidates' verdicts: a table, or rows of
// suspect, metric, distance, p_empirical, p_value, derived (csv, json).
std::string format_verdicts(const std::vector<Verdict>& verdicts, double alpha, const std::string& format);
std::string format_relatedness(const Roles& roles, const std::string& metric, const RelatednessReport& report);

// The pictures of a result: heatmap and similarity tree of its `matrix` of `metric`, and, for
// a fingerprinting zoo, the AUC against references of `rows` (RESULT-heatmap-METRIC.svg,
// RESULT-tree-METRIC.svg, RESULT-auc.svg; see PictureOptions). Returns their paths.
std::vector<std::string> write_eval_pictures(const std::string& result_path, const std::vector<std::string>& names,
                                             const std::vector<double>& matrix, const std::string& metric,
                                             bool fingerprinting, const std::vector<FingerprintRow>& rows,
                                             const PictureOptions& options);

}  // namespace modelgif
