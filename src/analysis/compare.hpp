// `modelgif compare`: two result files against each other, judged as
// numpy.allclose judges, |a - b| <= atol + rtol |b|, with an atol on each
// metric's own scale (rtol times the largest distance of that matrix) unless
// one is given: rounding that is tiny against the matrix's distances is not
// a difference, even where a distance is itself near 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace modelgif {

struct Tolerance {
  double rtol = 1e-6;
  std::optional<double> atol;  // default: rtol x the metric's largest distance in B
  bool judge_fields = true;    // false: the fields' differences are printed, not judged
};

struct MetricComparison {
  std::string metric;
  double largest_abs = 0, largest_rel = 0;  // over the matrix
  double atol = 0, scale = 0;               // the atol used; the metric's largest distance in B
  // The pair that decided: the largest |a - b| / (atol + rtol |b|), and its values.
  std::string model_a, model_b;
  double a = 0, b = 0, share = 0;  // share: |a - b| / allowed (> 1: different)
  bool same = true;
};

struct FieldComparison {
  std::string model;
  std::string shapes;  // "" when equal, else both shapes
  double largest = 0;  // |a - b| / largest |b|
  // Per reference (a field's first axis), its largest |a - b| / largest |b|:
  // how many are beyond rtol, and the median. A difference confined to a few
  // references is what crossing an activation's kink (a ReLU at 0, a
  // max-pool tie) at one path point gives, where two float32 runs round
  // differently; rounding alone is spread evenly.
  int64_t references = 0, beyond = 0;
  double median = 0;
  bool same = true;
};

struct Comparison {
  std::string mismatch;  // other models or metrics, said; "" when both hold the same
  std::vector<MetricComparison> metrics;
  std::vector<FieldComparison> fields;  // models whose fields both files store
  bool same = true;
};

Comparison compare_results(const std::string& a, const std::string& b, const Tolerance& tolerance);
// The lines compare prints, ending with the verdict.
std::string format_comparison(const Comparison& c, const Tolerance& tolerance);

}  // namespace modelgif
