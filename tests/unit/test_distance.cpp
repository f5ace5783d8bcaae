#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "modelgif/distance.hpp"
#include "modelgif/error.hpp"
#include "support/models.hpp"

using namespace modelgif;
using testsupport::fn_of;

namespace {

const c10::Device kCpu(c10::kCPU);

at::Tensor field_of(torch::jit::Module& m, const at::Tensor& x, const std::string& target = "sum", int steps = 8) {
  FieldSpec s;
  s.steps = steps;
  s.target = Target::parse(target);
  return FieldEngine(s, 64, kCpu).compute({fn_of(m), "m", x, at::zeros_like(x)}).field;
}

double pair(const at::Tensor& fa, const at::Tensor& fb, Metric metric) {
  DistanceAccumulator acc(2);
  acc.add_pair(0, 1, fa, fb);
  return acc.matrix(metric)[1];
}

// Plain-loop reference implementation of the row distances.
struct Rows {
  double cos = 0, euc = 0, cos_fre = 0, euc_fre = 0;
};
Rows by_hand(const at::Tensor& a, const at::Tensor& b) {
  const auto A = a.to(at::kDouble).contiguous(), B = b.to(at::kDouble).contiguous();
  const int64_t n = A.size(0), s = A.size(1), d = A.size(2);
  const double* pa = A.data_ptr<double>();
  const double* pb = B.data_ptr<double>();
  Rows r;
  for (int64_t i = 0; i < n; ++i) {
    double mc = -1, me = -1;
    for (int64_t k = 0; k < s; ++k) {
      double dot = 0, na = 0, nb = 0, e = 0;
      for (int64_t j = 0; j < d; ++j) {
        const double u = pa[(i * s + k) * d + j], v = pb[(i * s + k) * d + j];
        dot += u * v, na += u * u, nb += v * v, e += (u - v) * (u - v);
      }
      const double c = (na == 0 || nb == 0) ? 0.0 : dot / std::sqrt(na * nb);
      r.cos += 1 - c, r.euc += std::sqrt(e);
      mc = std::max(mc, 1 - c), me = std::max(me, std::sqrt(e));
    }
    r.cos_fre += mc, r.euc_fre += me;
  }
  r.cos /= static_cast<double>(n * s), r.euc /= static_cast<double>(n * s);
  r.cos_fre /= static_cast<double>(n), r.euc_fre /= static_cast<double>(n);
  return r;
}

}  // namespace

TEST(Distance, RescaledModelIsAtZeroAndNegatedModelAtTwo) {
  at::manual_seed(10);
  const auto a = at::randn({1, 4, 4});
  auto m = testsupport::linear_model(a), m3 = testsupport::linear_model(3 * a), neg = testsupport::linear_model(-a);
  const auto x = at::randn({5, 1, 4, 4});
  const auto f = field_of(m, x), f3 = field_of(m3, x), fn = field_of(neg, x);
  EXPECT_NEAR(pair(f, f3, Metric::Cosine), 0.0, 1e-7);
  EXPECT_NEAR(pair(f, fn, Metric::Cosine), 2.0, 1e-7);
  EXPECT_NEAR(pair(f, fn, Metric::CosineFrechet), 2.0, 1e-7);
  EXPECT_NEAR(pair(f, f, Metric::Euclidean), 0.0, 1e-12);
  // Euclidean distance of f and 3f is 2|f| per row.
  const double twice = 2 * f.to(at::kDouble).norm(2, -1).mean().item<double>();
  EXPECT_NEAR(pair(f, f3, Metric::Euclidean), twice, 1e-6 * twice);
}

TEST(Distance, EveryMetricMatchesAHandComputation) {
  at::manual_seed(11);
  const auto fa = at::randn({3, 4, 5}), fb = at::randn({3, 4, 5});
  const Rows r = by_hand(fa, fb);
  EXPECT_NEAR(pair(fa, fb, Metric::Cosine), r.cos, 1e-12);
  EXPECT_NEAR(pair(fa, fb, Metric::Euclidean), r.euc, 1e-12);
  EXPECT_NEAR(pair(fa, fb, Metric::CosineFrechet), r.cos_fre, 1e-12);
  EXPECT_NEAR(pair(fa, fb, Metric::EuclideanFrechet), r.euc_fre, 1e-12);
  // A 3-4-5 row by hand: |(3,4) - (0,0)| = 5, cos undefined -> 0.
  const auto u = at::tensor({3.f, 4.f}).view({1, 1, 2}), z = at::zeros({1, 1, 2});
  EXPECT_DOUBLE_EQ(pair(u, z, Metric::Euclidean), 5.0);
  EXPECT_DOUBLE_EQ(pair(u, z, Metric::Cosine), 1.0);
}

TEST(Distance, StandardizedCosineMatchesAHandComputation) {
  at::manual_seed(12);
  const auto fa = at::randn({4, 3, 6}) * 2 + 1, fb = at::randn({4, 3, 6}) - 3;
  auto standardize = [](const at::Tensor& f) {  // feature-wise over all rows, sample std
    const auto rows = f.to(at::kDouble).reshape({-1, f.size(2)});
    return ((rows - rows.mean(0)) / rows.std(0, /*unbiased=*/true)).view(f.sizes());
  };
  const double want = by_hand(standardize(fa), standardize(fb)).cos;
  // Moments accumulated over two blocks, then the second pass.
  FeatureMoments ma(6), mb(6);
  ma.add(fa.slice(0, 0, 1)), ma.add(fa.slice(0, 1, 4));
  mb.add(fb.slice(0, 0, 3)), mb.add(fb.slice(0, 3, 4));
  DistanceAccumulator acc(2);
  acc.add_pair(0, 1, ma.standardize(fa), mb.standardize(fb));
  EXPECT_NEAR(acc.matrix(Metric::CosineStandardized)[1], want, 1e-10);
}

TEST(Distance, ZeroNormRowsGiveNoNanAndAreCounted) {
  auto fa = at::ones({2, 3, 4});
  auto fb = at::ones({2, 3, 4});
  fa[0][1].zero_();
  fb[1][2].zero_();
  DistanceAccumulator acc(2);
  acc.add_pair(0, 1, fa, fb);
  const auto m = acc.matrix(Metric::Cosine);
  EXPECT_FALSE(std::isnan(m[1]));
  EXPECT_NEAR(m[1], 2.0 / 6.0, 1e-12);  // two rows at 1 - 0, four at 1 - 1
  EXPECT_EQ(acc.zero_norm_rows()[1], 2);
  EXPECT_EQ(acc.zero_norm_rows()[2], 2);
}

TEST(Distance, MatricesAreSymmetricWithZeroDiagonalAndMergeByAddition) {
  at::manual_seed(13);
  std::vector<at::Tensor> f = {at::randn({6, 2, 3}), at::randn({6, 2, 3}), at::randn({6, 2, 3})};
  DistanceAccumulator whole(3), first(3), second(3);
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b) {
      whole.add_pair(a, b, f[a], f[b]);
      first.add_pair(a, b, f[a].slice(0, 0, 2), f[b].slice(0, 0, 2));
      second.add_pair(a, b, f[a].slice(0, 2, 6), f[b].slice(0, 2, 6));
    }
  first.merge(second);
  for (auto metric : {Metric::Cosine, Metric::Euclidean, Metric::CosineFrechet, Metric::EuclideanFrechet}) {
    const auto m = whole.matrix(metric), merged = first.matrix(metric);
    for (int a = 0; a < 3; ++a) {
      EXPECT_EQ(m[a * 3 + a], 0.0);
      for (int b = 0; b < 3; ++b) {
        EXPECT_EQ(m[a * 3 + b], m[b * 3 + a]);
        EXPECT_NEAR(merged[a * 3 + b], m[a * 3 + b], 1e-12);
        if (a != b) EXPECT_GT(m[a * 3 + b], 0.0);
      }
    }
  }
  EXPECT_THROW(whole.merge(DistanceAccumulator(2)), Error);
}

TEST(Distance, PermutedHiddenChannelsAreTheSameFunctionIndependentModelsAreNot) {
  at::manual_seed(14);
  auto cnn = testsupport::tanh_cnn(14);
  auto perm = testsupport::permuted_copy(cnn);
  auto other = testsupport::tanh_cnn(15);
  const auto x = at::randn({8, 1, 8, 8});
  const auto f = field_of(cnn, x, "predicted"), fp = field_of(perm, x, "predicted"),
             fo = field_of(other, x, "predicted");
  EXPECT_LT(pair(f, fp, Metric::Cosine), 1e-6);
  EXPECT_GT(pair(f, fo, Metric::Cosine), 0.1);
}

TEST(Distance, GramPathMatchesPairByPairSums) {
  at::manual_seed(15);
  std::vector<at::Tensor> f;
  for (int m = 0; m < 4; ++m) f.push_back(at::randn({5, 3, 7}) + m * 0.3);
  f[2][1][2].zero_();  // a zero row
  DistanceAccumulator pairwise(4), gram(4);
  for (int a = 0; a < 4; ++a)
    for (int b = a + 1; b < 4; ++b) pairwise.add_pair(a, b, f[a], f[b]);
  // Within {0, 1} and {2, 3}, then across.
  const std::vector<int64_t> g1 = {0, 1}, g2 = {2, 3};
  const std::vector<at::Tensor> f1 = {f[0], f[1]}, f2 = {f[2], f[3]};
  gram.add_pairs(g1, f1, g1, f1, {{false, true}, {false, false}});
  gram.add_pairs(g2, f2, g2, f2, {{false, true}, {false, false}});
  gram.add_pairs(g1, f1, g2, f2, {{true, true}, {true, true}});
  for (auto metric : {Metric::Cosine, Metric::Euclidean, Metric::CosineFrechet, Metric::EuclideanFrechet}) {
    const auto x = pairwise.matrix(metric), y = gram.matrix(metric);
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_NEAR(y[i], x[i], 1e-9 * std::max(1.0, std::fabs(x[i]))) << to_string(metric);
  }
  EXPECT_EQ(gram.zero_norm_rows(), pairwise.zero_norm_rows());
}

TEST(Distance, MetricNamesRoundTrip) {
  for (auto m : all_metrics()) EXPECT_EQ(parse_metric(to_string(m)), m);
  EXPECT_THROW(parse_metric("manhattan"), UsageError);
}
