// Statistics for evaluating distances against what is known about a zoo:
// ROC AUC (fingerprinting), Spearman rank correlation (task relatedness) and
// average-linkage clustering (the similarity tree). Plain C++, no LibTorch.
#pragma once

#include <cstddef>
#include <vector>

namespace modelgif {

// ROC AUC of telling positives from negatives by a distance, smaller meaning
// "positive": P(d_pos < d_neg) + P(d_pos == d_neg) / 2. Needs both lists non-empty.
double roc_auc(const std::vector<double>& positive_distances, const std::vector<double>& negative_distances);

// Tests of "is this model closer to the source than unrelated models are?"
// against the distances of `null` models (independent negatives) to the same
// source; small p-values say closer.
//   empirical_p_value: (1 + #null at least as close) / (1 + #null): exact
//     under exchangeability, never below 1 / (1 + #null);
//   predictive_p_value: the null distances taken as normal with unknown mean
//     and variance: (d - mean) / (sd * sqrt(1 + 1/n)) follows Student's t with
//     n - 1 degrees of freedom for one more null model (exact under
//     normality), so 10-20 null models can give p-values below 0.01. Needs
//     n >= 2. Without spread (sd <= 1e-12 * |mean|: the null distances agree
//     to rounding) the normal model says nothing: it is 0 below the common
//     distance by more than that tolerance and 1 otherwise.
double empirical_p_value(double distance, const std::vector<double>& null_distances);
double predictive_p_value(double distance, const std::vector<double>& null_distances);
// The distance at which predictive_p_value is `alpha` (below it, smaller);
// NaN when the null distances have no spread.
double predictive_threshold(double alpha, const std::vector<double>& null_distances);
// P(T <= t) for Student's t with nu > 0 degrees of freedom.
double student_t_cdf(double t, double nu);
// The t with P(T <= t) = p, 0 < p < 1 (bisection on student_t_cdf).
double student_t_quantile(double p, double nu);
// The Clopper-Pearson interval of a binomial rate seen as `hits` of `trials`
// (exact: it covers the true rate with probability at least `confidence`):
// {0, upper} at 0 hits, {lower, 1} at `trials` hits.
struct Interval {
  double lower, upper;
};
Interval clopper_pearson(int hits, int trials, double confidence = 0.95);
// Holm-Bonferroni adjusted p-values (same order as `p`): reject at alpha
// where the adjusted value is <= alpha; controls the family-wise error rate.
std::vector<double> holm_adjusted(const std::vector<double>& p);

// Ranks 1..n, ties sharing their average rank.
std::vector<double> average_ranks(const std::vector<double>& x);
// Spearman's rank correlation (Pearson correlation of average ranks); NaN when
// a side is constant.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

// Average-linkage (UPGMA) agglomerative clustering of an n x n distance
// matrix (row-major). Merge i joins clusters `a` and `b` (ids < n are leaves,
// n + j is the cluster made by merge j) at `height`, like scipy's linkage.
struct Merge {
  size_t a, b;
  double height;
  size_t size;
};
std::vector<Merge> average_linkage(const std::vector<double>& distances, size_t n);
// Leaves in the order a dendrogram draws them.
std::vector<size_t> leaf_order(const std::vector<Merge>& merges, size_t n);

}  // namespace modelgif
