#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "modelgif/error.hpp"
#include "modelgif/target.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

TEST(Target, ParsesAndPrintsEveryKind) {
  for (std::string s : {"predicted", "label", "class:3", "sum", "topk:2", "channel_max"})
    EXPECT_EQ(Target::parse(s).str(), s);
  EXPECT_THROW(Target::parse("topk:0"), UsageError);
  EXPECT_THROW(Target::parse("class:x"), UsageError);
  EXPECT_THROW(Target::parse("logit"), UsageError);
}

TEST(Target, ClassifierMasksSelectTheRightLogit) {
  const auto out = at::tensor({0.1, 0.9, 0.3, 2.0, -1.0, 0.5}, at::kFloat).view({2, 3});
  const auto labels = at::tensor({2, 0}, at::kLong);
  auto pred = target_mask(Target::parse("predicted"), out, {}, "m");
  EXPECT_TRUE(pred.equal(at::tensor({0., 1., 0., 1., 0., 0.}, at::kFloat).view({2, 3})));
  auto lab = target_mask(Target::parse("label"), out, labels, "m");
  EXPECT_TRUE(lab.equal(at::tensor({0., 0., 1., 1., 0., 0.}, at::kFloat).view({2, 3})));
  auto cls = target_mask(Target::parse("class:1"), out, {}, "m");
  EXPECT_TRUE(cls.equal(at::tensor({0., 1., 0., 0., 1., 0.}, at::kFloat).view({2, 3})));
  EXPECT_TRUE(target_mask(Target::parse("sum"), out, {}, "m").equal(at::ones_like(out)));
}

TEST(Target, DenseMasksPickTopKPositionsPerChannelAndMaxChannelPerPosition) {
  // One sample, 2 channels, 2x2.
  const auto out = at::tensor({1., 5., 3., 2., 9., 0., 4., 8.}, at::kFloat).view({1, 2, 2, 2});
  auto top1 = target_mask(Target::parse("topk:1"), out, {}, "m");
  EXPECT_TRUE(top1.equal(at::tensor({0., 1., 0., 0., 1., 0., 0., 0.}, at::kFloat).view({1, 2, 2, 2})));
  auto top2 = target_mask(Target::parse("topk:2"), out, {}, "m");
  EXPECT_TRUE(top2.equal(at::tensor({0., 1., 1., 0., 1., 0., 0., 1.}, at::kFloat).view({1, 2, 2, 2})));
  auto cmax = target_mask(Target::parse("channel_max"), out, {}, "m");
  EXPECT_TRUE(cmax.equal(at::tensor({0., 1., 0., 0., 1., 0., 1., 1.}, at::kFloat).view({1, 2, 2, 2})));
}

TEST(Target, MismatchedOutputsNameTheModel) {
  const auto logits = at::zeros({2, 3});
  const auto dense = at::zeros({2, 3, 4, 4});
  for (auto [target, out] : {std::pair<std::string, at::Tensor>{"topk:1", logits},
                             {"channel_max", logits},
                             {"predicted", dense},
                             {"class:3", logits},
                             {"topk:17", dense}}) {
    try {
      target_mask(Target::parse(target), out, {}, "suspect-7");
      FAIL() << target;
    } catch (const InputError& e) {
      EXPECT_THAT(std::string(e.what()), HasSubstr("suspect-7")) << e.what();
    }
  }
  EXPECT_THROW(target_mask(Target::parse("label"), logits, at::tensor({0, 5}, at::kLong), "m"), InputError);
  EXPECT_THROW(target_mask(Target::parse("label"), logits, {}, "m"), UsageError);
}
