#include "analysis/report.hpp"

#include <algorithm>
#include <iomanip>
#include <map>
#include <sstream>

#include "analysis/svg.hpp"
#include "modelgif/stats.hpp"

namespace modelgif {
namespace {

std::ostringstream table_stream() {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3);
  return s;
}

void auc_rows(std::ostream& out, const std::vector<FingerprintRow>& rows) {
  for (const auto& row : rows) {
    out << "  " << std::setw(10) << row.references;
    for (const auto& [kind, auc] : row.auc) out << "  " << std::setw(12) << auc;
    out << "\n";
  }
}

}  // namespace

std::string format_fingerprinting(const Roles& roles, const std::string& metric,
                                  const std::vector<FingerprintRow>& rows) {
  auto out = table_stream();
  out << "fingerprinting: ROC AUC, positives vs " << roles.negatives.size() << " negatives, by " << metric
      << " distance to '" << roles.source << "'\n  references";
  for (const auto& [kind, models] : roles.positives) out << "  " << std::setw(12) << kind;
  out << "\n";
  auc_rows(out, rows);
  return out.str();
}

std::string format_selection(const SelectionReport& sel) {
  auto out = table_stream();
  out << "fingerprinting with reference selection: " << sel.selection_models.size()
      << " models choose the references, the other " << sel.evaluation_models.size() << " are evaluated\n"
      << "  random references (evaluation half):\n";
  auc_rows(out, sel.random);
  out << "  selected references (evaluation half):\n";
  auc_rows(out, sel.selected);
  return out.str();
}

std::string format_unlearning(const Roles& roles, const std::string& metric, const UnlearningReport& rep) {
  auto out = table_stream();
  out << "unlearning: " << metric << " distance to '" << roles.reference << "' (mean [min, max] over models)\n";
  for (const auto& [label, sp] : {std::pair<std::string, Spread>{"approximate", rep.approximate},
                                  {"direct", rep.direct},
                                  {"unrelated", rep.unrelated}})
    out << "  " << std::left << std::setw(12) << label << std::right << sp.mean << " [" << sp.min << ", " << sp.max
        << "]  (" << sp.n << " models)\n";
  for (const auto& [model, verdict] : rep.verdict)
    out << "  " << model << ": " << rep.distance.at(model) << ", " << verdict << "\n";
  return out.str();
}

std::string format_relatedness(const Roles& roles, const std::string& metric, const RelatednessReport& rep) {
  auto out = table_stream();
  out << "task relatedness: Spearman of " << metric << " distance vs transfer affinity, per task\n";
  for (const auto& t : roles.tasks)
    out << "  " << std::left << std::setw(14) << t << std::right << std::setw(7) << rep.per_task.at(t)
        << "  (without the diagonal " << rep.per_task_no_diagonal.at(t) << ")\n";
  out << "  mean " << rep.mean << " with the diagonal (as the published score), " << rep.mean_no_diagonal
      << " without\n";
  return out.str();
}

std::vector<std::string> write_eval_pictures(const std::string& result_path, const std::vector<std::string>& names,
                                             const std::vector<double>& m, const std::string& metric,
                                             bool fingerprinting, const std::vector<FingerprintRow>& rows,
                                             const PictureOptions& options) {
  const std::string stem = picture_stem(result_path, options.folder);
  std::vector<std::string> paths = write_metric_pictures(stem, result_path, names, m, metric, options);
  if (fingerprinting) {
    std::map<std::string, std::vector<std::pair<double, double>>> series;
    for (const auto& row : rows)
      for (const auto& [kind, auc] : row.auc) series[kind].emplace_back(static_cast<double>(row.references), auc);
    write_picture(
        stem + "-auc",
        line_chart_svg(series, "fingerprinting: ROC AUC against references", "references", "ROC AUC", true, 0.0, 1.0),
        options, paths);
  }
  return paths;
}

}  // namespace modelgif
