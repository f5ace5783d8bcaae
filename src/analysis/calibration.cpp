#include "analysis/calibration.hpp"

#include <cmath>

#include "modelgif/error.hpp"
#include "modelgif/stats.hpp"

namespace modelgif {

double standard_error_at(double alpha, int trials) {
  return std::sqrt(alpha * (1 - alpha) / static_cast<double>(trials));
}

std::vector<Calibration> calibrate(const std::vector<std::string>& names, const std::vector<std::string>& metrics,
                                   const std::vector<std::vector<double>>& matrices, const Roles& roles,
                                   const std::vector<double>& fpr_alphas, double tpr_alpha) {
  if (roles.source.empty()) throw_usage("eval --calibrate: the roles name no fingerprinting.source");
  if (roles.negatives.size() < 3)
    throw_usage(
        "eval --calibrate: needs at least 3 fingerprinting.negatives (each is left out and judged by the "
        "others), got " +
        std::to_string(roles.negatives.size()));
  std::vector<Calibration> out;
  for (size_t k = 0; k < metrics.size(); ++k) {
    Calibration c;
    c.metric = metrics[k], c.source = roles.source, c.fpr_alphas = fpr_alphas, c.tpr_alpha = tpr_alpha;
    const std::vector<double> neg = distances_to(names, matrices[k], roles.source, roles.negatives, "negative");
    c.negatives = static_cast<int>(neg.size());
    c.false_positives.assign(fpr_alphas.size(), Rate{0, c.negatives});
    for (size_t i = 0; i < neg.size(); ++i) {
      std::vector<double> rest = neg;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
      const double p = predictive_p_value(neg[i], rest);
      for (size_t a = 0; a < fpr_alphas.size(); ++a) c.false_positives[a].flagged += p <= fpr_alphas[a];
    }
    for (const auto& [kind, models] : roles.positives) {
      if (models.empty()) continue;
      KindRate r{kind, {0, static_cast<int>(models.size())}, {0, static_cast<int>(models.size())}};
      std::vector<double> p;
      for (const double d : distances_to(names, matrices[k], roles.source, models, "positive"))
        p.push_back(predictive_p_value(d, neg));
      const std::vector<double> adjusted = holm_adjusted(p);
      for (size_t i = 0; i < p.size(); ++i) {
        r.alone.flagged += p[i] <= tpr_alpha;
        r.holm.flagged += adjusted[i] <= tpr_alpha;
      }
      c.true_positives.push_back(r);
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace modelgif
