#include <gtest/gtest.h>

#include <cmath>

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
  EXPECT_THROW(predictive_p_value(0.5, {0.8}), Error);
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
