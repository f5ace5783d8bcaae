// Distances between gradient fields (MODELGIF.md §5), accumulated as
// per-reference sums in float64 so that reference blocks (and, later, MPI
// ranks) can be computed apart and merged by adding.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace modelgif {

enum class Metric { Cosine, Euclidean, CosineFrechet, EuclideanFrechet, CosineStandardized };

Metric parse_metric(const std::string& name);  // throws UsageError naming the value
std::string to_string(Metric m);
std::vector<Metric> all_metrics();

// 1 - cos between corresponding rows (last dimension) of two fields, in
// float64; rows where either side has zero norm get cos = 0 (and are flagged
// in `zero` when given).
at::Tensor cosine_distance_rows(const at::Tensor& fa, const at::Tensor& fb, at::Tensor* zero = nullptr);

// One value per reference of two fields' blocks (n x S' x D, same
// references), in float64: the metric's mean over steps (cosine, euclidean)
// or its largest step (the Frechet forms); the metric's matrix entry is their
// mean over references. CosineStandardized reads as Cosine: standardize the
// fields first (FeatureMoments).
at::Tensor per_reference_distance(Metric metric, const at::Tensor& fa, const at::Tensor& fb);

// Pairwise sums for an M-model zoo. For every unordered pair (a, b), a != b:
//   sum over rows (n,k) of 1 - cos and of the euclidean distance,
//   sum over references n of max_k (1 - cos) and max_k euclidean,
//   the number of rows, references and zero-norm rows.
class DistanceAccumulator {
 public:
  static constexpr int kSums = 7;  // cos, euc, cos_frechet, euc_frechet, rows, refs, zero_rows
  static constexpr int kRows = 4;  // index of the row count among the sums
  explicit DistanceAccumulator(int64_t models = 0);

  int64_t models() const { return models_; }
  // fa, fb: n x S' x D fields of models a and b on the same references.
  void add_pair(int64_t a, int64_t b, const at::Tensor& fa, const at::Tensor& fb);
  // Many pairs at once, through Gram matrices (BLAS): fields `a[i]` of models
  // `ids_a[i]` against `b[j]` of `ids_b[j]` (all n x S' x D, same references),
  // for the pairs where want(i, j). Same sums as add_pair up to rounding; the
  // euclidean distance comes from |a|^2 + |b|^2 - 2 a.b, so a distance near 0
  // carries an absolute error of about 1e-8 |a|.
  void add_pairs(const std::vector<int64_t>& ids_a, const std::vector<at::Tensor>& a, const std::vector<int64_t>& ids_b,
                 const std::vector<at::Tensor>& b, const std::vector<std::vector<bool>>& want);
  // The pairs among one set of models (want[i][j] for i < j), from one stack
  // of their fields multiplied by itself.
  void add_pairs_within(const std::vector<int64_t>& ids, const std::vector<at::Tensor>& fields,
                        const std::vector<std::vector<bool>>& want);
  // Adds another accumulator's sums (same M).
  void merge(const DistanceAccumulator& other);

  // M x M matrix (row-major) of a plain metric; zero diagonal, symmetric.
  // Pairs never added are NaN. CosineStandardized is served by an accumulator
  // fed with standardized fields (see FeatureMoments) and reads as Cosine.
  std::vector<double> matrix(Metric metric) const;
  // M x M count of rows where either field row had zero norm (cos taken as 0).
  std::vector<int64_t> zero_norm_rows() const;

  // Raw sums, kSums x M x M, for reduction across processes.
  std::vector<double>& raw() { return sums_; }
  const std::vector<double>& raw() const { return sums_; }

 private:
  double& at(int which, int64_t a, int64_t b) {
    return sums_[static_cast<size_t>((which * models_ + a) * models_ + b)];
  }
  double get(int which, int64_t a, int64_t b) const {
    return sums_[static_cast<size_t>((which * models_ + a) * models_ + b)];
  }
  void accumulate(const std::vector<int64_t>& ids_a, const std::vector<at::Tensor>& a,
                  const std::vector<int64_t>& ids_b, const std::vector<at::Tensor>& b,
                  const std::vector<std::vector<bool>>& want, bool same);
  int64_t models_;
  std::vector<double> sums_;
};

// Feature-wise moments of one model's field over all rows (n, k): the sums
// that cosine_standardized needs before its second pass.
class FeatureMoments {
 public:
  FeatureMoments() = default;
  explicit FeatureMoments(int64_t features);
  void add(const at::Tensor& field);  // n x S' x D
  // Standardizes a field: (F - mean) / std with the sample std (n - 1);
  // features with zero spread become 0. Returns float64.
  at::Tensor standardize(const at::Tensor& field) const;
  std::vector<double>& raw() { return sums_; }  // [count, sum(D), sumsq(D)]
  const std::vector<double>& raw() const { return sums_; }

 private:
  std::vector<double> sums_;
};

}  // namespace modelgif
