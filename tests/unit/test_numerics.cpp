// How models are evaluated (run.precision, run.memory_format): channels-last
// inputs give the contiguous field to rounding; bfloat16 stays within its
// error bound; a model that cannot run either way is named in one line.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "modelgif/error.hpp"
#include "modelgif/field.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/model.hpp"
#include "support/cli.hpp"
#include "support/models.hpp"
#include "testbeds/train.hpp"

namespace fs = std::filesystem;
using namespace modelgif;
using ::testing::HasSubstr;
using testsupport::Result;
using testsupport::run_cli;
using testsupport::TinyZoo;

namespace {

const c10::Device kCpu(c10::kCPU);
constexpr auto kNchw = at::MemoryFormat::Contiguous;
constexpr auto kNhwc = at::MemoryFormat::ChannelsLast;

// The bench's architectures, saved as TorchScript archives, with references
// drawn like Fashion-MNIST images (values in [0, 1]) and black baselines.
class ModelNumerics : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = testsupport::temp_dir("numerics");
    for (const std::string arch : {"cnn_a", "cnn_deep", "resnet_mini"}) {
      auto m = make_classifier(arch, 10, 3);
      m.eval();
      m.save(dir + "/" + arch + ".pt");
    }
    at::manual_seed(4);
    x = at::rand({5, 1, 28, 28});
    b = at::zeros_like(x);
    spec.steps = 12;
    spec.target = Target::parse("predicted");
  }
  // The field of `arch` in `numerics`, in micro-batches of 17 points (which
  // cut references at different steps).
  at::Tensor field(const std::string& arch, modelgif::Numerics numerics) {
    Model m({arch, dir + "/" + arch + ".pt"}, kCpu);
    m.probe(x.slice(0, 0, 1));
    m.convert(numerics, x.slice(0, 0, 1));
    return FieldEngine(spec, 17, kCpu, numerics).compute({m.fn(), arch, x, b}).field;
  }
  std::string dir;
  at::Tensor x, b;
  FieldSpec spec;
};

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// 1 - cosine similarity of two fields, over all references, steps and features.
double cosine_distance(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.flatten().to(at::kDouble), y = b.flatten().to(at::kDouble);
  return 1.0 - (x.dot(y) / (x.norm() * y.norm())).item<double>();
}

}  // namespace

// On smooth models (no ReLU or max-pooling kinks) rounding moves a field by
// rounding only: the invariance tolerance of micro-batches and threads.
TEST_F(ModelNumerics, ChannelsLastGivesTheContiguousFieldToRounding) {
  testsupport::tanh_cnn(7).save(dir + "/tanh_cnn.pt");
  testsupport::smooth_resnet(8).save(dir + "/smooth_resnet.pt");
  at::manual_seed(9);
  x = at::rand({6, 1, 8, 8});
  b = at::rand({6, 1, 8, 8}) * 0.1;
  for (const std::string arch : {"tanh_cnn", "smooth_resnet"}) {
    const at::Tensor nchw = field(arch, {at::kFloat, kNchw}), nhwc = field(arch, {at::kFloat, kNhwc});
    ASSERT_EQ(nchw.sizes(), nhwc.sizes());
    EXPECT_GT(nchw.abs().max().item<double>(), 0.0) << arch;
    EXPECT_LT(max_rel(nhwc, nchw), 1e-6) << arch;
  }
}

TEST_F(ModelNumerics, Bfloat16FieldsStayWithinTheirErrorBound) {
  for (const std::string arch : {"cnn_a", "cnn_deep", "resnet_mini"}) {
    const at::Tensor f32 = field(arch, {at::kFloat, kNchw});
    for (const auto format : {kNchw, kNhwc}) {
      const at::Tensor bf16 = field(arch, {at::kBFloat16, format});
      ASSERT_EQ(bf16.scalar_type(), at::kFloat) << "fields stay float32 after the gradient";
      // bfloat16 keeps 8 bits of mantissa: single values move by up to a
      // fifth of the field's scale (measured 0.12-0.20), the field as a whole
      // by little: its cosine distance to the float32 field (measured
      // 0.002-0.006) bounds how far a distance between two models moves.
      const double rel = max_rel(bf16, f32), cos = cosine_distance(bf16, f32);
      EXPECT_GT(rel, 1e-4) << arch << ": the bfloat16 path was not taken";
      EXPECT_LT(cos, 0.01) << arch;
    }
  }
}

TEST_F(ModelNumerics, AModelThatCannotRunInBfloat16IsNamed) {
  // A weight kept as a plain attribute is not converted with the module.
  torch::jit::Module m("Stubborn");
  m.register_attribute("w", c10::TensorType::get(), at::randn({784, 10}));
  m.define(R"(
def forward(self, x):
    return torch.matmul(torch.flatten(x, 1), self.w)
)");
  m.save(dir + "/stubborn.pt");
  Model model({"stubborn", dir + "/stubborn.pt"}, kCpu);
  model.probe(x.slice(0, 0, 1));
  model.convert({at::kFloat, kNchw}, x.slice(0, 0, 1));  // float32 is fine
  const std::string e = testsupport::message_of<InputError>([&] {
    model.convert({at::kBFloat16, kNchw}, x.slice(0, 0, 1));
  });
  EXPECT_THAT(e, HasSubstr("model 'stubborn' cannot run in bfloat16: "));
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST_F(ModelNumerics, AModelThatCannotTakeChannelsLastInputsIsNamed) {
  // view() of a convolution's output needs its NCHW layout.
  testsupport::save_viewer(dir + "/viewer.pt");
  Model model({"viewer", dir + "/viewer.pt"}, kCpu);
  model.probe(x.slice(0, 0, 1));
  const std::string e = testsupport::message_of<InputError>([&] {
    model.convert({at::kFloat, kNhwc}, x.slice(0, 0, 1));
  });
  EXPECT_THAT(e, HasSubstr("model 'viewer' cannot run in float32 with channels-last inputs: "));
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  model.convert({at::kFloat, kNchw}, x.slice(0, 0, 1));  // and back: it runs again
  EXPECT_EQ(model.fn()(x).size(1), 4 * 28 * 28);
}

TEST(NumericsNames, ParseAndPrintEachOther) {
  for (const std::string p : {"float32", "bfloat16"}) EXPECT_EQ(precision_name(parse_precision(p)), p);
  for (const std::string f : {"contiguous", "channels_last"}) EXPECT_EQ(memory_format_name(parse_memory_format(f)), f);
  EXPECT_THAT(testsupport::message_of<UsageError>([] { parse_precision("float16"); }),
              HasSubstr("unknown precision 'float16' (expected float32 or bfloat16)"));
}
