#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "modelgif/error.hpp"
#include "modelgif/stats.hpp"

using namespace modelgif;

TEST(Stats, AucOfSeparableIdenticalAndReversedScores) {
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.2, 0.3}, {0.5, 0.6}), 1.0);  // every positive closer
  EXPECT_DOUBLE_EQ(roc_auc({0.5, 0.6}, {0.1, 0.2, 0.3}), 0.0);  // every positive farther
  EXPECT_DOUBLE_EQ(roc_auc({0.4, 0.4}, {0.4, 0.4, 0.4}), 0.5);  // identical lists: ties count half
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.5}, {0.3}), 0.5);
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.3, 0.5}, {0.2, 0.4}), 3.0 / 6.0);  // 0.1 beats both, 0.3 beats 0.4
  EXPECT_THROW(roc_auc({}, {0.1}), Error);
}

TEST(Stats, StudentTMatchesClosedFormsAndTables) {
  EXPECT_DOUBLE_EQ(student_t_cdf(0, 7), 0.5);
  EXPECT_NEAR(student_t_cdf(1, 1), 0.75, 1e-12);  // Cauchy: 1/2 + atan(t)/pi
  EXPECT_NEAR(student_t_cdf(-3, 1), 0.5 + std::atan(-3.0) / M_PI, 1e-12);
  for (const double t : {-4.0, -0.5, 2.0})  // nu = 2: 1/2 + t / (2 sqrt(2 + t^2))
    EXPECT_NEAR(student_t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-12) << t;
  EXPECT_NEAR(student_t_cdf(2.228138851986, 10), 0.975, 1e-9);    // the table's t_{0.975, 10}
  EXPECT_NEAR(student_t_cdf(-2.539483190622, 19), 0.01, 1e-9);    // t_{0.01, 19}
  EXPECT_NEAR(student_t_cdf(-1.959963984540, 1e7), 0.025, 1e-6);  // the normal limit
  EXPECT_DOUBLE_EQ(student_t_cdf(-INFINITY, 3), 0.0);
}

TEST(Stats, PValuesOfAClosestAMiddleAndATiedSuspect) {
  const std::vector<double> null = {0.80, 0.82, 0.84, 0.86, 0.88};
  EXPECT_DOUBLE_EQ(empirical_p_value(0.10, null), 1.0 / 6.0);  // closer than every null model
  EXPECT_DOUBLE_EQ(empirical_p_value(0.83, null), 3.0 / 6.0);  // two null models closer
  EXPECT_DOUBLE_EQ(empirical_p_value(0.84, null), 4.0 / 6.0);  // a tie counts as at least as close
  EXPECT_DOUBLE_EQ(empirical_p_value(0.95, null), 1.0);
  // mean 0.84, sd 0.0316: the middle is 1/2, a suspect 5 sd below it far below 0.01.
  EXPECT_NEAR(predictive_p_value(0.84, null), 0.5, 1e-12);
  const double sd = std::sqrt(0.004 / 4), scale = sd * std::sqrt(1 + 1.0 / 5);
  EXPECT_NEAR(predictive_p_value(0.10, null), student_t_cdf((0.10 - 0.84) / scale, 4), 1e-15);
  EXPECT_LT(predictive_p_value(0.10, null), 1e-3);
  EXPECT_GT(predictive_p_value(0.86, null), 0.5);
  EXPECT_DOUBLE_EQ(predictive_p_value(0.5, {0.8, 0.8}), 0.0);  // no spread: below is certain
  EXPECT_DOUBLE_EQ(predictive_p_value(0.8, {0.8, 0.8}), 1.0);  // and level with them is not closer
  EXPECT_THROW(predictive_p_value(0.5, {0.8}), Error);
}

// The predictive p-values pinned to an independent computation (mpmath, 40
// digits: the t density integrated numerically, not the incomplete beta used
// here): nulls 0.80..0.88, mean 0.84, sd sqrt(0.001), scale sd sqrt(1 + 1/5), 4 dof.
TEST(Stats, PredictivePValuesArePinnedToAnIndependentComputation) {
  const std::vector<double> null = {0.80, 0.82, 0.84, 0.86, 0.88};
  const std::pair<double, double> pinned[] = {
      {0.05, 1.09503703915991e-5}, {0.10, 1.4198375843379e-5}, {0.82, 0.297321082148474}, {0.86, 0.702678917851526}};
  for (const auto& [d, p] : pinned) EXPECT_NEAR(predictive_p_value(d, null), p, 1e-11 * p) << d;
  // Holm over three suspects: 3 x the smallest, then 2 x the next and 1 x the
  // largest made monotone (both 2 x 0.2973 = 0.5946).
  const auto adjusted = holm_adjusted({predictive_p_value(0.05, null), 0.5, predictive_p_value(0.82, null)});
  EXPECT_NEAR(adjusted[0], 3.28511111748e-5, 1e-15);
  EXPECT_NEAR(adjusted[1], 0.594642164297, 1e-11);
  EXPECT_NEAR(adjusted[2], 0.594642164297, 1e-11);
  // Where the p-value is alpha: mean + t_{0.01, 4} sd sqrt(1.2) (mpmath: 0.710201935014651).
  EXPECT_NEAR(predictive_threshold(0.01, null), 0.710201935014651, 1e-12);
  EXPECT_NEAR(predictive_p_value(predictive_threshold(0.01, null), null), 0.01, 1e-12);
}

// Negatives whose distances agree to rounding have no spread to judge by: the
// t statistic would be rounding noise over rounding noise, so the tolerance is
// relative (1e-12 of the mean) and the p-value 0 or 1.
TEST(Stats, NullDistancesWithoutSpreadGiveZeroOrOne) {
  const std::vector<double> flat = {0.8, 0.8 + 1e-16, 0.8 - 1e-16};
  EXPECT_EQ(predictive_p_value(0.79, flat), 0.0);
  EXPECT_EQ(predictive_p_value(0.8, flat), 1.0);
  EXPECT_EQ(predictive_p_value(0.8 - 1e-14, flat), 1.0);  // within rounding of them: not closer
  EXPECT_EQ(predictive_p_value(0.9, flat), 1.0);
  EXPECT_TRUE(std::isnan(predictive_threshold(0.01, flat)));
  EXPECT_EQ(predictive_p_value(0.0, {0.0, 0.0}), 1.0);  // all at 0: nothing is closer
  // A spread of 1e-9 of the mean is a spread: the t test applies.
  const double p = predictive_p_value(0.8 - 1e-8, {0.8, 0.8 + 1e-9, 0.8 - 1e-9});
  EXPECT_GT(p, 0.0);
  EXPECT_LT(p, 0.01);
}

TEST(Stats, StudentTQuantileInvertsTheCdf) {
  EXPECT_NEAR(student_t_quantile(0.01, 19), -2.539483190622, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.228138851986, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.01, 4), -3.74694738797920, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.001, 1), std::tan(M_PI * (0.001 - 0.5)), 1e-7);  // Cauchy: -318.3
  EXPECT_NEAR(student_t_quantile(0.5, 3), 0.0, 1e-14);
  EXPECT_NEAR(student_t_cdf(1e-9, 3), 0.5 + 1e-9 * 0.36755259694786136, 3e-16);  // density at 0: 2 / (pi sqrt 3)
  EXPECT_THROW(student_t_quantile(0.0, 3), Error);
}

// Exact binomial intervals: at 0 of n the upper end is 1 - 0.025^(1/n), at n
// of n the lower end 0.025^(1/n); the others pinned to mpmath's beta quantiles.
TEST(Stats, ClopperPearsonIntervalsMatchClosedFormsAndMpmath) {
  for (const int n : {1, 9, 20}) {
    const Interval none = clopper_pearson(0, n), all = clopper_pearson(n, n);
    EXPECT_EQ(none.lower, 0.0);
    EXPECT_NEAR(none.upper, 1 - std::pow(0.025, 1.0 / n), 1e-12) << n;
    EXPECT_NEAR(all.lower, std::pow(0.025, 1.0 / n), 1e-12) << n;
    EXPECT_EQ(all.upper, 1.0);
  }
  EXPECT_NEAR(clopper_pearson(0, 20).upper, 0.168433470983, 1e-11);
  const Interval one = clopper_pearson(1, 20), two = clopper_pearson(2, 4);
  EXPECT_NEAR(one.lower, 0.00126508949795, 1e-12);
  EXPECT_NEAR(one.upper, 0.248732762772, 1e-11);
  EXPECT_NEAR(two.lower, 0.0675859864885, 1e-12);
  EXPECT_NEAR(two.upper, 0.932414013511, 1e-11);
  EXPECT_NEAR(clopper_pearson(1, 9).upper, 0.482496514917, 1e-11);
  EXPECT_THROW(clopper_pearson(3, 2), Error);
  EXPECT_THROW(clopper_pearson(0, 0), Error);
}

TEST(Stats, HolmAdjustsInStepsAndKeepsTheOrder) {
  const std::vector<double> adjusted = holm_adjusted({0.01, 0.04, 0.03, 0.005});
  // Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, made monotone: 0.02, 0.03, 0.06, 0.06.
  ASSERT_EQ(adjusted.size(), 4u);
  EXPECT_NEAR(adjusted[0], 0.03, 1e-15);
  EXPECT_NEAR(adjusted[1], 0.06, 1e-15);
  EXPECT_NEAR(adjusted[2], 0.06, 1e-15);
  EXPECT_NEAR(adjusted[3], 0.02, 1e-15);
  EXPECT_DOUBLE_EQ(holm_adjusted({0.6, 0.9})[1], 1.0);  // capped at 1
}

TEST(Stats, SpearmanOfMonotoneReversedAndTiedOrders) {
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {10, 20, 30, 400}), 1.0);  // monotone, not linear
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  EXPECT_EQ(average_ranks({3, 1, 3, 2}), (std::vector<double>{3.5, 1, 3.5, 2}));
  // With ties: Pearson correlation of the average ranks, by hand.
  const double r = spearman({1, 2, 2, 3}, {1, 3, 2, 4});
  // ranks x = 1, 2.5, 2.5, 4; y = 1, 3, 2, 4: covariance 4.5, variances 4.5 and 5.
  EXPECT_NEAR(r, 4.5 / std::sqrt(4.5 * 5.0), 1e-12);
  EXPECT_TRUE(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));
}

TEST(Stats, AverageLinkageMatchesAHandComputedTree) {
  // Four points: 0 and 1 close (1), 2 near them (~4), 3 far (~10).
  const std::vector<double> d = {0,  1,  4, 10,  //
                                 1,  0,  5, 11,  //
                                 4,  5,  0, 9,   //
                                 10, 11, 9, 0};
  const auto m = average_linkage(d, 4);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].a, 0u);
  EXPECT_EQ(m[0].b, 1u);
  EXPECT_DOUBLE_EQ(m[0].height, 1.0);
  EXPECT_EQ(m[1].a, 2u);
  EXPECT_EQ(m[1].b, 4u);               // cluster {0,1}
  EXPECT_DOUBLE_EQ(m[1].height, 4.5);  // mean of 4 and 5
  EXPECT_EQ(m[2].size, 4u);
  EXPECT_DOUBLE_EQ(m[2].height, 10.0);  // mean of 10, 11, 9
  EXPECT_EQ(leaf_order(m, 4), (std::vector<size_t>{3, 2, 0, 1}));
}
