#include "analysis/report.hpp"

#include <algorithm>
#include <iomanip>
#include <map>
#include <sstream>

#include "analysis/svg.hpp"
#include "base/text.hpp"
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

std::string format_verdicts(const std::vector<Verdict>& vs, double alpha, const std::string& format) {
  std::ostringstream out;
  if (format == "csv") {
    out << csv_row({"suspect", "metric", "distance", "p_empirical", "p_value", "derived"});
    for (const auto& v : vs)
      out << csv_row(
          {v.model, v.metric, exact(v.distance), exact(v.p_empirical), exact(v.p_value), v.derived ? "true" : "false"});
    return out.str();
  }
  if (format == "json") {
    out << "[";
    for (size_t i = 0; i < vs.size(); ++i) {
      const auto& v = vs[i];
      out << (i ? ",\n " : "") << "{\"suspect\": " << json_string(v.model) << ", \"metric\": " << json_string(v.metric)
          << ", \"distance\": " << exact(v.distance) << ", \"p_empirical\": " << exact(v.p_empirical)
          << ", \"p_value\": " << exact(v.p_value) << ", \"derived\": " << (v.derived ? "true" : "false") << "}";
    }
    out << "]\n";
    return out.str();
  }
  std::string header;
  for (const auto& v : vs) {
    const bool fp = v.test == "fingerprinting";
    const std::string h = std::string(fp ? "suspects of '" : "unlearning candidates of '") + v.source + "', " +
                          v.metric + ": against " + std::to_string(v.nulls) +
                          (fp ? " independent negatives" : " unrelated models") + " (Holm over the " +
                          (fp ? "suspects" : "candidates") + ", alpha " + exact(alpha) + ")";
    if (h != header) {
      out << h << "\n"
          << "  " << std::left << std::setw(20) << "model" << std::right << std::setw(10) << "distance" << std::setw(13)
          << "p_empirical" << std::setw(11) << "p_value" << std::setw(11) << "adjusted"
          << "  verdict\n";
      header = h;
    }
    const char* verdict =
        fp ? (v.derived ? "derived from the source" : "not shown to be derived")
           : (v.derived ? "not forgotten (closer than unrelated models)" : "as far as an unrelated model");
    out << "  " << std::left << std::setw(20) << v.model << std::right << std::fixed << std::setprecision(4)
        << std::setw(10) << v.distance << std::setprecision(3) << std::setw(13) << v.p_empirical << std::scientific
        << std::setprecision(2) << std::setw(11) << v.p_value << std::setw(11) << v.p_adjusted << std::defaultfloat
        << "  " << verdict << "\n";
  }
  if (!vs.empty())
    out << "  (p_value: Student's t predictive test on the null models' distances, assumed normal;\n"
           "   p_empirical: (1 + null models at least as close) / (1 + null models). A p-value against\n"
           "   these models, not a proof.)\n";
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
