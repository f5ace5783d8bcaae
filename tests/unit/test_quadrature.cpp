#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "modelgif/error.hpp"
#include "modelgif/quadrature.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

TEST(Quadrature, GaussLegendreIntegratesPolynomialsExactlyUpToDegree2SMinus1) {
  for (int S = 1; S <= 12; ++S) {
    const auto q = make_quadrature(QuadratureRule::GaussLegendre, S);
    ASSERT_EQ(q.nodes.size(), static_cast<size_t>(S));
    for (int deg = 0; deg <= 2 * S - 1; ++deg) {
      double integral = 0;
      for (int k = 0; k < S; ++k) integral += q.weights[k] * std::pow(q.nodes[k], deg);
      EXPECT_NEAR(integral, 1.0 / (deg + 1), 1e-13) << "S=" << S << " degree " << deg;
    }
    // ... and x^(2S) with exactly Gauss' error (S!)^4 / ((2S+1) ((2S)!)^2) on [0, 1].
    if (S <= 8) {
      double integral = 0, fact = 1, fact2 = 1;
      for (int k = 0; k < S; ++k) integral += q.weights[k] * std::pow(q.nodes[k], 2 * S);
      for (int k = 2; k <= S; ++k) fact *= k;
      for (int k = 2; k <= 2 * S; ++k) fact2 *= k;
      const double gauss_error = std::pow(fact, 4) / ((2 * S + 1) * fact2 * fact2);
      EXPECT_NEAR(1.0 / (2 * S + 1) - integral, gauss_error, 1e-6 * gauss_error + 1e-15) << "S=" << S;
    }
  }
}

TEST(Quadrature, GaussLegendreMatchesPublishedValuesInIncreasingOrder) {
  // numpy.polynomial.legendre.leggauss: S=2 -> t = -1/sqrt(3), 1/sqrt(3), v = 1, 1;
  // S=3 -> t = -sqrt(3/5), 0, sqrt(3/5), v = 5/9, 8/9, 5/9. Mapped: (1+t)/2, v/2.
  auto q2 = make_quadrature(QuadratureRule::GaussLegendre, 2);
  EXPECT_NEAR(q2.nodes[0], (1 - 1 / std::sqrt(3.0)) / 2, 1e-15);
  EXPECT_NEAR(q2.nodes[1], (1 + 1 / std::sqrt(3.0)) / 2, 1e-15);
  EXPECT_NEAR(q2.weights[0], 0.5, 1e-15);
  EXPECT_NEAR(q2.weights[1], 0.5, 1e-15);
  auto q3 = make_quadrature(QuadratureRule::GaussLegendre, 3);
  EXPECT_NEAR(q3.nodes[0], (1 - std::sqrt(0.6)) / 2, 1e-15);
  EXPECT_NEAR(q3.nodes[1], 0.5, 1e-15);
  EXPECT_NEAR(q3.nodes[2], (1 + std::sqrt(0.6)) / 2, 1e-15);
  EXPECT_NEAR(q3.weights[0], 5.0 / 18, 1e-15);
  EXPECT_NEAR(q3.weights[1], 8.0 / 18, 1e-15);
  EXPECT_NEAR(q3.weights[2], 5.0 / 18, 1e-15);
  // S=4: t = +-0.3399810435848563, +-0.8611363115940526; v = 0.6521451548625461, 0.3478548451374538.
  auto q4 = make_quadrature(QuadratureRule::GaussLegendre, 4);
  EXPECT_NEAR(q4.nodes[0], (1 - 0.8611363115940526) / 2, 1e-15);
  EXPECT_NEAR(q4.nodes[1], (1 - 0.3399810435848563) / 2, 1e-15);
  EXPECT_NEAR(q4.weights[0], 0.3478548451374538 / 2, 1e-15);
  EXPECT_NEAR(q4.weights[1], 0.6521451548625461 / 2, 1e-15);
  for (int S : {5, 20, 50}) {
    auto q = make_quadrature(QuadratureRule::GaussLegendre, S);
    double sum = 0;
    for (int k = 0; k < S; ++k) {
      sum += q.weights[k];
      if (k > 0) EXPECT_LT(q.nodes[k - 1], q.nodes[k]);
    }
    EXPECT_NEAR(sum, 1.0, 1e-14);
  }
}

TEST(Quadrature, RiemannRulesMatchTheTable) {
  const int S = 4;
  const auto left = make_quadrature(QuadratureRule::RiemannLeft, S);
  const auto right = make_quadrature(QuadratureRule::RiemannRight, S);
  const auto middle = make_quadrature(QuadratureRule::RiemannMiddle, S);
  const auto trap = make_quadrature(QuadratureRule::RiemannTrapezoid, S);
  const double eL[] = {0, 0.25, 0.5, 0.75}, eR[] = {0.25, 0.5, 0.75, 1.0}, eM[] = {0.125, 0.375, 0.625, 0.875},
               eT[] = {0, 1.0 / 3, 2.0 / 3, 1.0};
  for (int k = 0; k < S; ++k) {
    EXPECT_NEAR(left.nodes[k], eL[k], 1e-15);
    EXPECT_NEAR(right.nodes[k], eR[k], 1e-15);
    EXPECT_NEAR(middle.nodes[k], eM[k], 1e-15);
    EXPECT_NEAR(trap.nodes[k], eT[k], 1e-15);
    EXPECT_DOUBLE_EQ(left.weights[k], 0.25);
    EXPECT_DOUBLE_EQ(right.weights[k], 0.25);
    EXPECT_DOUBLE_EQ(middle.weights[k], 0.25);
  }
  // The published trapezoid: 1/S each, first and last halved: sums to (S-1)/S.
  EXPECT_DOUBLE_EQ(trap.weights[0], 0.125);
  EXPECT_DOUBLE_EQ(trap.weights[1], 0.25);
  EXPECT_DOUBLE_EQ(trap.weights[2], 0.25);
  EXPECT_DOUBLE_EQ(trap.weights[3], 0.125);
  EXPECT_DOUBLE_EQ(trap.weights[0] + trap.weights[1] + trap.weights[2] + trap.weights[3], 0.75);
}

TEST(Quadrature, BadStepCountsAndNamesAreUsageErrors) {
  EXPECT_THROW(make_quadrature(QuadratureRule::RiemannLeft, 1), UsageError);
  EXPECT_THROW(make_quadrature(QuadratureRule::GaussLegendre, 0), UsageError);
  EXPECT_NO_THROW(make_quadrature(QuadratureRule::GaussLegendre, 1));
  EXPECT_EQ(parse_quadrature_rule("riemann_trapezoid"), QuadratureRule::RiemannTrapezoid);
  try {
    parse_quadrature_rule("simpson");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("simpson"));
  }
}
