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
