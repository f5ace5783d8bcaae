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
