#include "analysis/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <map>
#include <sstream>

#include "analysis/svg.hpp"
#include "base/text.hpp"
#include "modelgif/stats.hpp"

namespace modelgif {
namespace {

// A level as people write it: 0.05, not exact()'s 0.050000000000000003.
std::string level(double alpha) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", alpha);
  return buf;
}

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

std::string format_separation(const std::string& metric, const Separation& s) {
  std::ostringstream out;
  out << "check (" << metric << "): farthest derived model " << std::fixed << std::setprecision(4)
      << s.farthest_positive << (s.ok ? " < " : " >= ") << "nearest independent model " << s.nearest_negative << ": "
      << (s.ok ? "PASS" : "FAIL") << "\n";
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
                          (fp ? "suspects" : "candidates") + ", alpha " + level(alpha) + ")";
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

namespace {

std::string fraction(const Rate& r) { return std::to_string(r.flagged) + "/" + std::to_string(r.trials); }

std::string fixed(double v, int precision = 3) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

// One calibration row for csv and json: the fields in format_calibration's order.
struct CalibrationRow {
  std::string test, kind;
  double alpha;
  bool holm;
  Rate rate;
  double se;  // NaN: none
};

std::vector<CalibrationRow> calibration_rows(const Calibration& c) {
  std::vector<CalibrationRow> rows;
  for (size_t a = 0; a < c.fpr_alphas.size(); ++a)
    rows.push_back({"false_positive", "negatives", c.fpr_alphas[a], false, c.false_positives[a],
                    standard_error_at(c.fpr_alphas[a], c.false_positives[a].trials)});
  for (const auto& k : c.true_positives)
    for (const bool holm : {false, true})
      rows.push_back({"true_positive", k.kind, c.tpr_alpha, holm, holm ? k.holm : k.alone, std::nan("")});
  return rows;
}

}  // namespace

std::string format_calibration(const std::vector<Calibration>& cs, const std::string& format) {
  std::ostringstream out;
  if (format == "csv" || format == "json") {
    const bool csv = format == "csv";
    if (csv)
      out << csv_row({"metric", "source", "test", "kind", "alpha", "holm", "flagged", "trials", "rate", "se_at_alpha",
                      "ci95_lower", "ci95_upper"});
    else
      out << "[";
    bool first = true;
    for (const auto& c : cs)
      for (const auto& r : calibration_rows(c)) {
        const Interval ci = clopper_pearson(r.rate.flagged, r.rate.trials);
        const std::string se = std::isnan(r.se) ? (csv ? "" : "null") : exact(r.se);
        if (csv) {
          out << csv_row({c.metric, c.source, r.test, r.kind, exact(r.alpha), r.holm ? "true" : "false",
                          std::to_string(r.rate.flagged), std::to_string(r.rate.trials), exact(r.rate.rate()), se,
                          exact(ci.lower), exact(ci.upper)});
          continue;
        }
        out << (first ? "" : ",\n ") << "{\"metric\": " << json_string(c.metric)
            << ", \"source\": " << json_string(c.source) << ", \"test\": " << json_string(r.test)
            << ", \"kind\": " << json_string(r.kind) << ", \"alpha\": " << exact(r.alpha)
            << ", \"holm\": " << (r.holm ? "true" : "false") << ", \"flagged\": " << r.rate.flagged
            << ", \"trials\": " << r.rate.trials << ", \"rate\": " << exact(r.rate.rate())
            << ", \"se_at_alpha\": " << se << ", \"ci95_lower\": " << exact(ci.lower)
            << ", \"ci95_upper\": " << exact(ci.upper) << "}";
        first = false;
      }
    if (!csv) out << "]\n";
    return out.str();
  }
  for (const auto& c : cs) {
    const int n = c.negatives;
    out << "calibration of the suspects' test, " << c.metric << " distance to '" << c.source << "' (" << n
        << " negatives)\n"
        << "  false positives: each negative left out and tested alone against the other " << n - 1 << "\n"
        << "    alpha   flagged   rate   SE at alpha   95% interval (Clopper-Pearson)\n";
    for (size_t a = 0; a < c.fpr_alphas.size(); ++a) {
      const Rate& r = c.false_positives[a];
      const Interval ci = clopper_pearson(r.flagged, r.trials);
      out << "    " << std::left << std::setw(6) << level(c.fpr_alphas[a]) << std::right << std::setw(10) << fraction(r)
          << std::setw(7) << fixed(r.rate()) << std::setw(14) << fixed(standard_error_at(c.fpr_alphas[a], r.trials))
          << "   [" << fixed(ci.lower) << ", " << fixed(ci.upper) << "]\n";
    }
    if (!c.true_positives.empty()) {
      out << "  true positives at alpha " << level(c.tpr_alpha) << ": every positive tested against all " << n
          << " negatives\n"
          << "    " << std::left << std::setw(16) << "kind" << std::setw(32) << "alone (95% interval)"
          << "Holm over the kind's models\n";
      for (const auto& k : c.true_positives) {
        const Interval ci = clopper_pearson(k.alone.flagged, k.alone.trials);
        const std::string alone =
            fraction(k.alone) + "  " + fixed(k.alone.rate()) + " [" + fixed(ci.lower) + ", " + fixed(ci.upper) + "]";
        out << "    " << std::setw(16) << k.kind << std::setw(32) << alone << fraction(k.holm) << "  "
            << fixed(k.holm.rate()) << "\n";
      }
      out << std::right;
    }
  }
  if (!cs.empty())
    out << "  (p: Student's t predictive p-value, as the verdicts. The leave-one-out trials share one pool of\n"
           "   negatives, so they are not independent; the SE and interval treat them as if they were.)\n";
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

std::vector<std::string> write_audit_pictures(const std::string& result_path, const std::vector<std::string>& names,
                                              const std::vector<std::string>& metrics,
                                              const std::vector<std::vector<double>>& matrices, const Roles& roles,
                                              const std::vector<Verdict>& verdicts, double alpha,
                                              const PictureOptions& options) {
  std::vector<std::string> paths;
  if (verdicts.empty()) return paths;
  const std::string stem = picture_stem(result_path, options.folder);
  const std::string file = std::filesystem::path(result_path).filename().string();
  for (const bool fp : {true, false})
    for (size_t k = 0; k < metrics.size(); ++k) {
      std::vector<StripPoint> marks;
      for (const auto& v : verdicts)
        if ((v.test == "fingerprinting") == fp && v.metric == metrics[k]) {
          char label[96];
          std::snprintf(label, sizeof label, "p = %.2e (Holm %.2e)", v.p_value, v.p_adjusted);
          marks.push_back({v.model, v.distance, v.model + ": " + label, v.derived});
        }
      if (marks.empty()) continue;
      const std::string& source = fp ? roles.source : roles.reference;
      const std::vector<std::string>& null_models = fp ? roles.negatives : roles.unrelated;
      const std::vector<double> null =
          distances_to(names, matrices[k], source, null_models, fp ? "negative" : "unrelated");
      std::vector<StripPoint> dots;
      for (size_t i = 0; i < null.size(); ++i) dots.push_back({null_models[i], null[i], "", false});
      const std::string nulls = std::to_string(null.size()) + (fp ? " independent negatives" : " unrelated models");
      write_picture(stem + (fp ? "-suspects-" : "-candidates-") + metrics[k],
                    strip_svg(dots, marks,
                              std::string(fp ? "suspects of '" : "unlearning candidates of '") + source + "' against " +
                                  nulls + ": " + file,
                              metrics[k] + " distance to '" + source + "'",
                              "dots: the " + nulls + "; triangles: the " + (fp ? "suspects" : "candidates") +
                                  ", red where " + (fp ? "derived" : "not forgotten") + " at alpha " + level(alpha) +
                                  " after Holm; p: Student's t predictive p-value",
                              predictive_threshold(alpha, null), "p = " + level(alpha) + " here, before Holm"),
                    options, paths);
    }
  return paths;
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
