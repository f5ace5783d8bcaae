// The pair sums of one reference block: DistanceAccumulator's kSums sums for
// every pair of the models it holds (K x K, row-major per sum), keyed by model
// identity, so that a grown zoo computes only the pairs with its new models.
// A pair is covered when its sums count rows.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "modelgif/distance.hpp"
#include "run/ids.hpp"

namespace modelgif {

class PairSums {
 public:
  static constexpr int kSums = DistanceAccumulator::kSums;
  PairSums() = default;
  explicit PairSums(std::vector<ModelId> models);                   // no pair covered
  PairSums(std::vector<ModelId> models, std::vector<double> sums);  // sums: kSums x K x K

  const std::vector<ModelId>& models() const { return models_; }
  bool empty() const { return models_.empty(); }
  std::optional<size_t> find(const ModelId& m) const;
  double sum(int which, size_t a, size_t b) const { return sums_[(which * models_.size() + a) * models_.size() + b]; }
  bool covers(const ModelId& a, const ModelId& b) const;
  // Every pair of `zoo` covered.
  bool covers_all(const std::vector<ModelId>& zoo) const;

  // These sums with the models of `zoo` they lack added, uncovered.
  PairSums extended(const std::vector<ModelId>& zoo) const;
  // The sums of pair (a, b) of `zoo` (indices into it) from `acc`, both ways.
  void take(const DistanceAccumulator& acc, const std::vector<ModelId>& zoo, int64_t a, int64_t b);
  // Adds the sums of every pair of `zoo` into `acc` (indices of `zoo`);
  // returns the first pair not covered (as "a / b"), or "" when all are.
  std::string add_to(DistanceAccumulator& acc, const std::vector<ModelId>& zoo) const;

  const std::vector<double>& raw() const { return sums_; }

 private:
  std::vector<ModelId> models_;
  std::vector<double> sums_;
};

}  // namespace modelgif
