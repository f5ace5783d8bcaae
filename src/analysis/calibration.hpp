// `modelgif eval --calibrate`: how the suspects' test (analysis/eval.hpp,
// verdicts) behaves on a zoo whose answers are known, from its distance
// matrices alone. Per metric:
//   false positives: each negative left out in turn and tested, as a suspect
//     alone (no Holm), against the other negatives: the share flagged at each
//     alpha should be at most alpha, up to its sampling error;
//   true positives: every positive tested against all the negatives: the
//     share of each kind flagged at one alpha, alone and with Holm over the
//     kind's models (the correction an auditor testing them together applies).
// The leave-one-out trials share one pool of negatives, so they are not
// independent: the binomial errors stated with them are a guide, not a bound.
#pragma once

#include <string>
#include <vector>

#include "analysis/eval.hpp"

namespace modelgif {

struct Rate {
  int flagged = 0, trials = 0;
  double rate() const { return trials ? static_cast<double>(flagged) / trials : 0.0; }
};

struct KindRate {
  std::string kind;
  Rate alone, holm;  // at Calibration::tpr_alpha
};

struct Calibration {
  std::string metric, source;
  int negatives = 0;
  std::vector<double> fpr_alphas;        // the levels of the false-positive rates
  std::vector<Rate> false_positives;     // one per level
  double tpr_alpha = 0.01;               // the level of the true-positive rates
  std::vector<KindRate> true_positives;  // one per positive kind, by name
};

// One Calibration per metric. UsageError without fingerprinting.source or
// with fewer than 3 negatives (each left out needs 2 to be judged by).
std::vector<Calibration> calibrate(const std::vector<std::string>& names, const std::vector<std::string>& metrics,
                                   const std::vector<std::vector<double>>& matrices, const Roles& roles,
                                   const std::vector<double>& fpr_alphas = {0.05, 0.01}, double tpr_alpha = 0.01);

// The binomial standard error of a rate that is exactly `alpha`, over `trials`
// trials: sqrt(alpha (1 - alpha) / trials), how far an observed rate strays by chance.
double standard_error_at(double alpha, int trials);

}  // namespace modelgif
