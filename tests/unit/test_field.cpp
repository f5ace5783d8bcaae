#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "modelgif/error.hpp"
#include "modelgif/field.hpp"
#include "modelgif/random.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using testsupport::fn_of;

namespace {

FieldSpec spec_of(QuadratureRule rule, int steps, const std::string& target = "sum") {
  FieldSpec s;
  s.rule = rule;
  s.steps = steps;
  s.target = Target::parse(target);
  return s;
}

const c10::Device kCpu(c10::kCPU);

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(1e-30, b.abs().max().item<double>());
}

}  // namespace

TEST(Field, LinearModelHasTheClosedFormField) {
  at::manual_seed(1);
  const auto a = at::randn({2, 3, 3});
  auto model = testsupport::linear_model(a);
  const auto x = at::randn({4, 2, 3, 3}), b = at::full({4, 2, 3, 3}, 0.25);
  for (auto rule : {QuadratureRule::GaussLegendre, QuadratureRule::RiemannTrapezoid, QuadratureRule::RiemannLeft}) {
    const int S = 6;
    const auto q = make_quadrature(rule, S);
    FieldEngine engine(spec_of(rule, S), 5, kCpu);
    const auto F = engine.compute({fn_of(model), "linear", x, b}).field;
    ASSERT_EQ(F.sizes(), (at::IntArrayRef{4, S, 18}));
    double cum = 0;
    for (int k = 0; k < S; ++k) {
      cum += q.weights[k];  // F_k = (sum_{j<=k} w_j) a * (x - b)
      const auto expect = (cum * a.unsqueeze(0) * (x - b)).reshape({4, 18});
      EXPECT_LT(max_rel(F.select(1, k), expect), 1e-6) << to_string(rule) << " step " << k;
    }
    // Per-step and without the input offset: F_k = w_k a.
    auto s = spec_of(rule, S);
    s.cumulative = false;
    s.multiply_by_input = false;
    const auto G = FieldEngine(s, 5, kCpu).compute({fn_of(model), "linear", x, b}).field;
    for (int k = 0; k < S; ++k)
      EXPECT_LT(max_rel(G.select(1, k), (q.weights[k] * a).reshape({1, 18}).expand({4, 18})), 1e-6);
  }
}

TEST(Field, ChannelMeanReducesToHxWFeatures) {
  at::manual_seed(2);
  const auto a = at::randn({3, 2, 2});
  auto model = testsupport::linear_model(a);
  const auto x = at::randn({2, 3, 2, 2}), b = at::zeros_like(x);
  auto s = spec_of(QuadratureRule::GaussLegendre, 3);
  s.reduce = ChannelReduce::Mean;
  const auto F = FieldEngine(s, 100, kCpu).compute({fn_of(model), "linear", x, b}).field;
  ASSERT_EQ(F.sizes(), (at::IntArrayRef{2, 3, 4}));
  const auto expect = (a.unsqueeze(0) * x).mean(1).reshape({2, 4});  // cumulative weights sum to 1 at S
  EXPECT_LT(max_rel(F.select(1, 2), expect), 1e-6);
}

TEST(Field, KeptStepsSelectTheDocumentedIndices) {
  EXPECT_EQ(kept_step_indices(KeptSteps::All, 4), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(kept_step_indices(KeptSteps::LastHalf, 6), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(kept_step_indices(KeptSteps::LastHalf, 5), (std::vector<int64_t>{2, 3, 4}));  // k > 2.5
  EXPECT_EQ(kept_step_indices(KeptSteps::FirstHalf, 5), (std::vector<int64_t>{0, 1}));    // k <= 2.5
  EXPECT_EQ(kept_step_indices(KeptSteps::Odd, 6), (std::vector<int64_t>{1, 3, 5}));       // the second, fourth...
  EXPECT_THROW(kept_step_indices(KeptSteps::FirstHalf, 1), UsageError);

  // The engine keeps exactly those steps of the full field.
  at::manual_seed(3);
  auto model = testsupport::tanh_cnn(3);
  const auto x = at::randn({3, 1, 8, 8}), b = at::zeros_like(x);
  const auto full = FieldEngine(spec_of(QuadratureRule::GaussLegendre, 7, "predicted"), 9, kCpu)
                        .compute({fn_of(model), "cnn", x, b})
                        .field;
  for (auto kept : {KeptSteps::LastHalf, KeptSteps::FirstHalf, KeptSteps::Odd}) {
    auto s = spec_of(QuadratureRule::GaussLegendre, 7, "predicted");
    s.kept = kept;
    const auto part = FieldEngine(s, 9, kCpu).compute({fn_of(model), "cnn", x, b}).field;
    const auto idx = at::tensor(kept_step_indices(kept, 7), at::kLong);
    EXPECT_LT(max_rel(part, full.index_select(1, idx)), 1e-6) << to_string(kept);
  }
}

TEST(Field, CompletenessOfASmoothCnnWithFiftyGaussLegendreSteps) {
  at::manual_seed(4);
  auto model = testsupport::tanh_cnn(4);
  const auto x = at::rand({6, 1, 8, 8}) * 2 - 1, b = at::zeros_like(x);
  const auto F = FieldEngine(spec_of(QuadratureRule::GaussLegendre, 50, "predicted"), 128, kCpu)
                     .compute({fn_of(model), "cnn", x, b})
                     .field;
  at::NoGradGuard ng;
  const auto yx = model.forward({x}).toTensor(), yb = model.forward({b}).toTensor();
  const auto cls = yx.argmax(1, true);
  const auto dy = (yx.gather(1, cls) - yb.gather(1, cls)).view({-1});
  const auto total = F.select(1, 49).to(at::kDouble).sum(1);
  for (int i = 0; i < 6; ++i) {
    const double want = dy[i].item<double>(), got = total[i].item<double>();
    EXPECT_LT(std::fabs(got - want) / std::fabs(want), 1e-4) << "reference " << i << ": " << got << " vs " << want;
  }
}

TEST(Field, MicroBatchSizeAndThreadCountDoNotChangeTheField) {
  at::manual_seed(5);
  auto model = testsupport::tanh_cnn(5);
  const auto x = at::randn({5, 1, 8, 8}), b = at::randn({5, 1, 8, 8}) * 0.1;
  const auto ref = FieldEngine(spec_of(QuadratureRule::GaussLegendre, 7, "predicted"), 1000, kCpu)
                       .compute({fn_of(model), "cnn", x, b})
                       .field;
  // 1: every point alone; 3, 5: chunks cut references at different steps; 7: whole references.
  for (int64_t mp : {1, 3, 5, 7, 13, 34}) {
    const auto F = FieldEngine(spec_of(QuadratureRule::GaussLegendre, 7, "predicted"), mp, kCpu)
                       .compute({fn_of(model), "cnn", x, b})
                       .field;
    EXPECT_LT(max_rel(F, ref), 1e-6) << "max_points " << mp;
  }
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  const auto one = FieldEngine(spec_of(QuadratureRule::GaussLegendre, 7, "predicted"), 13, kCpu)
                       .compute({fn_of(model), "cnn", x, b})
                       .field;
  at::set_num_threads(2);
  const auto two = FieldEngine(spec_of(QuadratureRule::GaussLegendre, 7, "predicted"), 13, kCpu)
                       .compute({fn_of(model), "cnn", x, b})
                       .field;
  at::set_num_threads(before);
  EXPECT_LT(max_rel(one, ref), 1e-6);
  EXPECT_LT(max_rel(two, ref), 1e-6);
}

// keep_going is asked after every micro-batch but the last; when it says no,
// the references whose steps are all done are counted and their fields are
// those of a whole call (the cumulative carry included).
TEST(Field, KeepGoingStopsAfterAMicroBatchWithTheCompletedReferences) {
  at::manual_seed(5);
  auto model = testsupport::tanh_cnn(5);
  const ModelFn fn = fn_of(model);
  const auto x = at::randn({5, 1, 8, 8}), b = at::zeros_like(x);
  // 35 path points in micro-batches of 10: 10, 20, 30 and 35 points done.
  const FieldEngine engine(spec_of(QuadratureRule::GaussLegendre, 7, "predicted"), 10, kCpu);
  const FieldResult whole = engine.compute({fn, "cnn", x, b});
  EXPECT_EQ(whole.completed, 5);
  int asked = 0;
  FieldRequest request{fn, "cnn", x, b};
  request.keep_going = [&] { return ++asked < 10; };
  const FieldResult all = engine.compute(request);
  EXPECT_EQ(asked, 3);
  EXPECT_EQ(all.completed, 5);
  EXPECT_TRUE(at::equal(all.field, whole.field));
  asked = 0;
  request.keep_going = [&] { return ++asked < 2; };  // stops after 20 points: references 0 and 1 whole
  const FieldResult part = engine.compute(request);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(part.completed, 2);
  EXPECT_TRUE(at::equal(part.field.slice(0, 0, 2), whole.field.slice(0, 0, 2)));
}

TEST(Field, TargetsChangeWhatIsDifferentiated) {
  at::manual_seed(6);
  auto model = testsupport::tanh_cnn(6);
  const auto x = at::randn({4, 1, 8, 8}), b = at::zeros_like(x);
  auto field = [&](const std::string& t, const at::Tensor& labels) {
    return FieldEngine(spec_of(QuadratureRule::GaussLegendre, 5, t), 64, kCpu)
        .compute({fn_of(model), "cnn", x, b, labels})
        .field;
  };
  at::Tensor pred_class;
  {
    at::NoGradGuard ng;
    pred_class = model.forward({x}).toTensor().argmax(1);
  }
  // label == predicted class gives the predicted field; class:K for all equal to label K.
  EXPECT_LT(max_rel(field("label", pred_class), field("predicted", {})), 1e-7);
  const auto k1 = field("class:1", {});
  EXPECT_LT(max_rel(field("label", at::ones({4}, at::kLong)), k1), 1e-7);
  // sum = class:0 + class:1 + class:2 (linearity of the gradient).
  EXPECT_LT(max_rel(field("sum", {}), field("class:0", {}) + k1 + field("class:2", {})), 1e-5);
  EXPECT_GT(max_rel(field("class:0", {}), k1), 0.01);

  // Dense targets: with K = H*W, topk sums every position = sum.
  auto dense = testsupport::dense_model(7);
  auto dfield = [&](const std::string& t) {
    return FieldEngine(spec_of(QuadratureRule::GaussLegendre, 5, t), 64, kCpu)
        .compute({fn_of(dense), "dense", x, b})
        .field;
  };
  EXPECT_LT(max_rel(dfield("topk:64"), dfield("sum")), 1e-6);
  EXPECT_GT(max_rel(dfield("topk:1"), dfield("sum")), 0.01);
  EXPECT_GT(max_rel(dfield("channel_max"), dfield("sum")), 0.01);
  EXPECT_THROW(dfield("predicted"), InputError);
}

TEST(Field, NanInAFieldNamesModelAndReference) {
  auto model = testsupport::sqrt_model();
  auto x = at::rand({4, 1, 2, 2}) + 0.5;
  x[2][0][1][1] = -1.0;  // sqrt of a negative on the path of reference 2
  try {
    FieldEngine(spec_of(QuadratureRule::GaussLegendre, 4), 3, kCpu)
        .compute({fn_of(model), "rooty", x, at::zeros_like(x), {}, 10});
    FAIL() << "expected a NumericError";
  } catch (const NumericError& e) {
    const std::string w = e.what();
    EXPECT_THAT(w, HasSubstr("rooty")) << w;
    EXPECT_THAT(w, HasSubstr("reference 12")) << w;
  }
}

// A device that runs out of memory above 32 path points: the field loop says
// so by model, as an InputError to lower run.max_points, and tuning keeps the
// largest size that fit instead of failing the run (a GPU's OOM while tuning).
TEST(Field, OutOfMemoryIsNamedAndTuningBacksOffFromIt) {
  auto model = testsupport::tanh_cnn(5);
  const ModelFn fits = fn_of(model);
  const ModelFn small_device = [fits](const at::Tensor& x) {
    TORCH_CHECK_WITH(OutOfMemoryError, x.size(0) <= 32, "out of memory (a simulated device)");
    return fits(x);
  };
  const auto x = at::randn({64, 1, 8, 8});
  const FieldSpec spec = spec_of(QuadratureRule::GaussLegendre, 4);
  try {
    FieldEngine(spec, 64, kCpu).compute({small_device, "cnn", x, at::zeros_like(x)});
    FAIL() << "expected OutOfMemory";
  } catch (const OutOfMemory& e) {
    EXPECT_EQ(e.exit_code(), kExitInput);
    EXPECT_THAT(e.what(), HasSubstr("model 'cnn': out of memory on cpu with micro-batches of 64 path points"));
  }
  const Tuning t = tune_max_points(small_device, "cnn", spec, x, kCpu, 256);
  EXPECT_EQ(t.max_points, 32);  // 8, 16, 32 fit; 64 does not (and the rate rises with size on this model)
  EXPECT_GT(t.points_per_second, 0);
  // Nothing fits: the smallest size's error, naming the model.
  const ModelFn full_device = [](const at::Tensor&) -> at::Tensor {
    TORCH_CHECK_WITH(OutOfMemoryError, false, "out of memory (a simulated device)");
  };
  EXPECT_THROW(tune_max_points(full_device, "cnn", spec, x, kCpu, 256), OutOfMemory);
}
