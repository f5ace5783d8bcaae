// The text of `modelgif eval`'s tables and its pictures: what the paper
// reports, formatted for a terminal (3 decimals) and drawn as SVG.
#pragma once

#include <string>
#include <vector>

#include "analysis/calibration.hpp"
#include "analysis/eval.hpp"
#include "analysis/pictures.hpp"
#include "modelgif/result.hpp"

namespace modelgif {

std::string format_fingerprinting(const Roles& roles, const std::string& metric,
                                  const std::vector<FingerprintRow>& rows);
std::string format_selection(const SelectionReport& report);
std::string format_unlearning(const Roles& roles, const std::string& metric, const UnlearningReport& report);
// "check (METRIC): farthest derived model X < nearest independent model Y: PASS"
std::string format_separation(const std::string& metric, const Separation& s);
// The suspects' and candidates' verdicts: a table, or rows of
// suspect, metric, distance, p_empirical, p_value, derived (csv, json).
std::string format_verdicts(const std::vector<Verdict>& verdicts, double alpha, const std::string& format);
// The calibration of the suspects' test: a table per metric, or rows of
// metric, source, test, kind, alpha, holm, flagged, trials, rate, se_at_alpha,
// ci95_lower, ci95_upper (csv, json; se_at_alpha only for false positives).
std::string format_calibration(const std::vector<Calibration>& calibration, const std::string& format);
std::string format_relatedness(const Roles& roles, const std::string& metric, const RelatednessReport& report);

// A picture per test and metric of `verdicts`: the null models' distances to
// the source as dots, each tested model marked and labelled with its p-value
// (STEM-suspects-METRIC.svg, STEM-candidates-METRIC.svg). Returns their paths.
std::vector<std::string> write_audit_pictures(const std::string& result_path, const std::vector<std::string>& names,
                                              const std::vector<std::string>& metrics,
                                              const std::vector<std::vector<double>>& matrices, const Roles& roles,
                                              const std::vector<Verdict>& verdicts, double alpha,
                                              const PictureOptions& options);

// The pictures of a result: heatmap and similarity tree of its `matrix` of `metric`, and, for
// a fingerprinting zoo, the AUC against references of `rows` (RESULT-heatmap-METRIC.svg,
// RESULT-tree-METRIC.svg, RESULT-auc.svg; see PictureOptions). Returns their paths.
std::vector<std::string> write_eval_pictures(const std::string& result_path, const std::vector<std::string>& names,
                                             const std::vector<double>& matrix, const std::string& metric,
                                             bool fingerprinting, const std::vector<FingerprintRow>& rows,
                                             const PictureOptions& options);

}  // namespace modelgif
