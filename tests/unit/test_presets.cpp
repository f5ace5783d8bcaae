// field.preset: each preset resolves to its documented keys, refuses explicit
// keys that contradict it, and computes its attribution's textbook definition,
// checked here against plain autograd on a smooth CNN.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "modelgif/config.hpp"
#include "modelgif/error.hpp"
#include "modelgif/field.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

namespace {

const char* const kZoo = R"(
zoo:
  - {name: a, path: a.pt}
references:
  source: refs.h5:/images
)";

RunConfig with_preset(const std::string& preset, std::vector<std::pair<std::string, std::string>> more = {}) {
  more.insert(more.begin(), {"field.preset", preset});
  return load_config(kZoo, "test.yaml", more);
}

const c10::Device kCpu(c10::kCPU);

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(1e-30, b.abs().max().item<double>());
}

// The textbook gradient of the predicted logit (fixed at x) at the points p.
at::Tensor gradient_at(const ModelFn& model, const at::Tensor& x, const at::Tensor& p) {
  const at::Tensor cls = model(x).detach().argmax(1, true);
  const at::Tensor q = p.detach().clone().requires_grad_(true);
  const at::Tensor y = model(q).gather(1, cls).sum();
  return torch::autograd::grad({y}, {q})[0].detach();
}

class Presets : public ::testing::Test {
 protected:
  void SetUp() override {
    at::manual_seed(3);
    x = at::randn({5, 1, 8, 8});
    fn = testsupport::fn_of(cnn);
  }
  // Fields of the tanh CNN under the resolved config: N x S' x D.
  at::Tensor field_of(const RunConfig& c, const at::Tensor& b) const {
    return FieldEngine(c.field, 64, kCpu).compute({fn, "cnn", x, b}).field;
  }
  torch::jit::Module cnn = testsupport::tanh_cnn(11);
  ModelFn fn;
  at::Tensor x;
};

}  // namespace

TEST(FieldPreset, EachPresetSetsItsKeysAndTheResolvedConfigShowsThem) {
  ASSERT_EQ(field_presets().size(), 4u);
  for (const auto& p : field_presets()) {
    const RunConfig c = with_preset(p.name);
    EXPECT_THAT(c.resolved_yaml, HasSubstr("preset: " + p.name)) << p.name;
    for (const auto& [key, value] : p.keys)
      EXPECT_THAT(c.resolved_yaml, HasSubstr(key.substr(key.find('.') + 1) + ": " + value)) << p.name << " " << key;
  }
  const RunConfig s = with_preset("saliency");
  EXPECT_EQ(s.field.steps, 1);
  EXPECT_EQ(s.field.rule, QuadratureRule::Endpoint);
  EXPECT_FALSE(s.field.multiply_by_input);
  const RunConfig ig = with_preset("integrated_gradients", {{"field.steps", "20"}});
  EXPECT_EQ(ig.field.steps, 20);  // a key the preset leaves alone stays the user's
  EXPECT_EQ(ig.field.kept, KeptSteps::Last);
  // The modelgif preset is the defaults: the same resolved field.* values.
  const RunConfig plain = load_config(kZoo, "test.yaml"), mg = with_preset("modelgif");
  EXPECT_EQ(plain.field.rule, mg.field.rule);
  EXPECT_EQ(plain.field.kept, mg.field.kept);
  EXPECT_EQ(plain.field.cumulative, mg.field.cumulative);
  EXPECT_EQ(plain.field.multiply_by_input, mg.field.multiply_by_input);
}

TEST(FieldPreset, AnExplicitKeyThatContradictsThePresetIsRefusedNamingBoth) {
  const std::string e = testsupport::message_of<UsageError>([] { with_preset("saliency", {{"field.steps", "50"}}); });
  EXPECT_THAT(e, HasSubstr("key 'field.steps': 50 contradicts field.preset saliency"));
  EXPECT_THAT(e, HasSubstr("which sets 1"));
  const std::string y = testsupport::message_of<UsageError>(
      [] { load_config(std::string(kZoo) + "field:\n  preset: input_x_gradient\n  baseline: shuffle\n", "run.yaml"); });
  EXPECT_THAT(y, HasSubstr("config run.yaml"));
  EXPECT_THAT(y, HasSubstr("key 'field.baseline': shuffle contradicts field.preset input_x_gradient"));
  // The same value given explicitly agrees with the preset.
  EXPECT_EQ(with_preset("saliency", {{"field.steps", "1"}}).field.steps, 1);
  EXPECT_THAT(testsupport::message_of<UsageError>([] { with_preset("smoothgrad"); }),
              HasSubstr("key 'field.preset': expected none, modelgif, integrated_gradients, saliency, "
                        "input_x_gradient, got 'smoothgrad'"));
  EXPECT_THAT(testsupport::message_of<UsageError>([] {
                load_config(kZoo, "t.yaml", {{"field.method", "endpoint"}});
              }),
              HasSubstr("endpoint has one node (alpha = 1): it needs field.steps 1, got 50"));
}

TEST_F(Presets, SaliencyIsTheGradientAtTheInput) {
  const RunConfig c = with_preset("saliency");
  const at::Tensor F = field_of(c, at::zeros_like(x));
  ASSERT_EQ(F.sizes(), (at::IntArrayRef{5, 1, 64}));
  EXPECT_LT(max_rel(F.squeeze(1), gradient_at(fn, x, x).reshape({5, 64})), 1e-6);
}

TEST_F(Presets, InputTimesGradientIsTheInputTimesTheGradientAtIt) {
  const RunConfig c = with_preset("input_x_gradient");
  const at::Tensor F = field_of(c, at::zeros_like(x));
  EXPECT_LT(max_rel(F.squeeze(1), (x * gradient_at(fn, x, x)).reshape({5, 64})), 1e-6);
}

TEST_F(Presets, IntegratedGradientsIsTheOffsetTimesThePathIntegralAndComplete) {
  const RunConfig c = with_preset("integrated_gradients");
  const at::Tensor b = at::full_like(x, 0.3);
  const at::Tensor F = field_of(c, b);
  ASSERT_EQ(F.sizes(), (at::IntArrayRef{5, 1, 64}));
  // Textbook IG: (x - b) * integral_0^1 grad(b + a (x - b)) da, here by the
  // midpoint rule with 2000 points (independent of the engine's Gauss-Legendre).
  const int n = 2000;
  at::Tensor integral = at::zeros_like(x);
  for (int i = 0; i < n; i += 200) {
    const at::Tensor a = (at::arange(i, i + 200, at::kFloat) + 0.5) / n;  // 200 nodes
    const at::Tensor p = (b.unsqueeze(0) + a.view({200, 1, 1, 1, 1}) * (x - b).unsqueeze(0)).reshape({-1, 1, 8, 8});
    const at::Tensor xs = x.unsqueeze(0).expand({200, 5, 1, 8, 8}).reshape({-1, 1, 8, 8});
    integral += gradient_at(fn, xs, p).reshape({200, 5, 1, 8, 8}).sum(0) / n;
  }
  const at::Tensor ig = ((x - b) * integral).reshape({5, 64});
  EXPECT_LT(max_rel(F.squeeze(1), ig), 1e-4);
  // Completeness: the attributions sum to y(x) - y(b).
  const at::Tensor cls = fn(x).detach().argmax(1, true);
  const at::Tensor gap = (fn(x).gather(1, cls) - fn(b).gather(1, cls)).detach().squeeze(1);
  EXPECT_LT((F.sum({1, 2}) - gap).abs().max().item<double>(), 1e-4 * gap.abs().max().item<double>());
  // And it is the last step of the modelgif field on the same path.
  const at::Tensor G = field_of(with_preset("modelgif"), b);
  EXPECT_LT(max_rel(F.squeeze(1), G.select(1, G.size(1) - 1)), 1e-6);
}
