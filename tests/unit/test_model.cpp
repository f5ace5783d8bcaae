// Model loading (modelgif/model.hpp): TorchScript archives, their identity,
// the shapes they accept, the device and the threads.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "base/hash.hpp"
#include "modelgif/error.hpp"
#include "modelgif/model.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

namespace {

std::string input_error_of(const std::function<void()>& fn) { return testsupport::message_of<InputError>(fn); }

}  // namespace

TEST(Model, LoadsFrozenInEvalModeAndComputesItsFunction) {
  const std::string dir = testsupport::temp_dir("model-load");
  auto cnn = testsupport::tanh_cnn(3);
  cnn.save(dir + "/cnn.pt");
  const Model m({"cnn", dir + "/cnn.pt"}, c10::Device(c10::kCPU));
  EXPECT_EQ(m.name(), "cnn");
  const at::Tensor x = at::randn({2, 1, 8, 8});
  const at::Tensor want = cnn.forward({x}).toTensor();
  EXPECT_TRUE(at::allclose(m.fn()(x), want));
  m.probe(at::zeros({1, 1, 8, 8}));
  // Input gradients flow although no parameter requires grad.
  const at::Tensor p = x.clone().requires_grad_(true);
  m.fn()(p).sum().backward();
  EXPECT_TRUE(p.grad().defined());
}

TEST(Model, MissingJunkAndMisshapenModelsNameTheModel) {
  const std::string dir = testsupport::temp_dir("model-bad");
  std::ofstream(dir + "/junk.pt") << "not a zip archive";
  EXPECT_THAT(input_error_of([&] {
                Model({"gone", dir + "/gone.pt"}, c10::kCPU);
              }),
              HasSubstr("model 'gone': no such file " + dir + "/gone.pt"));
  EXPECT_THAT(input_error_of([&] {
                Model({"junk", dir + "/junk.pt"}, c10::kCPU);
              }),
              HasSubstr("model 'junk': " + dir + "/junk.pt is not a TorchScript archive"));
  testsupport::tanh_cnn(1).save(dir + "/cnn.pt");
  const Model m({"cnn", dir + "/cnn.pt"}, c10::kCPU);
  EXPECT_THAT(input_error_of([&] {
                m.probe(at::zeros({1, 3, 8, 8}));
              }),
              HasSubstr("model 'cnn' does not accept references of shape 3x8x8"));
  EXPECT_THAT(input_error_of([&] {
                m.fn()(at::zeros({1, 2, 8, 8}));
              }),
              HasSubstr("model 'cnn': forward failed on input of shape 1x2x8x8"));
  // A declared input_shape is checked before any forward pass.
  auto declared = testsupport::tanh_cnn(1);
  declared.register_attribute("input_shape", c10::ListType::ofInts(), c10::IValue(std::vector<int64_t>{1, 8, 8}));
  declared.save(dir + "/declared.pt");
  const Model d({"declared", dir + "/declared.pt"}, c10::kCPU);
  EXPECT_THAT(input_error_of([&] {
                d.probe(at::zeros({1, 1, 9, 9}));
              }),
              HasSubstr("model 'declared' expects inputs of shape 1x8x8, references are 1x9x9"));
}

TEST(Model, IdentityIsTheFileHash) {
  const std::string dir = testsupport::temp_dir("model-hash");
  testsupport::tanh_cnn(1).save(dir + "/a.pt");
  testsupport::tanh_cnn(2).save(dir + "/b.pt");
  const std::string a = model_file_hash({"a", dir + "/a.pt"});
  EXPECT_EQ(a, hash_file(dir + "/a.pt"));
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, model_file_hash({"b", dir + "/b.pt"}));
  EXPECT_THAT(input_error_of([&] { model_file_hash({"c", dir + "/c.pt"}); }), HasSubstr("model 'c': no such file"));
}

TEST(Model, DeviceAndThreads) {
  EXPECT_EQ(resolve_device(parse_device_spec("cpu"), 3), c10::Device(c10::kCPU));
  EXPECT_TRUE(resolve_device(parse_device_spec("auto"), 1).is_cpu() ||
              resolve_device(parse_device_spec("auto"), 1).is_cuda());
  EXPECT_EQ(set_threads(3), 3);
  EXPECT_EQ(at::get_num_threads(), 3);
  EXPECT_GE(set_threads(0, 1000), 1);  // more ranks than cores: still one thread each
  set_threads(2);
}

// float32 stays float32 on a GPU: TF32 off in cuDNN and cuBLAS, and cuDNN
// deterministic without its benchmark (the flags are the same on a CPU build).
TEST(Model, Float32IsKeptExactOnGpus) {
  at::Context& ctx = at::globalContext();
  ctx.setAllowTF32CuDNN(true);
  ctx.setAllowTF32CuBLAS(true);
  ctx.setBenchmarkCuDNN(true);
  ctx.setDeterministicCuDNN(false);
  keep_float32_exact();
  EXPECT_FALSE(ctx.allowTF32CuDNN());
  EXPECT_FALSE(ctx.allowTF32CuBLAS());
  EXPECT_EQ(ctx.float32MatmulPrecision(), at::Float32MatmulPrecision::HIGHEST);
  EXPECT_FALSE(ctx.benchmarkCuDNN());
  EXPECT_TRUE(ctx.deterministicCuDNN());
}

TEST(Model, EachRankOfANodeTakesTheGpuOfItsNodeLocalRank) {
  // 4 GPUs on a node: node-local ranks 0..5 take cuda:0,1,2,3,0,1 (more ranks than GPUs share).
  for (int local = 0; local < 6; ++local)
    EXPECT_EQ(resolve_device(parse_device_spec("auto"), local, 4),
              c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local % 4)))
        << local;
  EXPECT_EQ(resolve_device(parse_device_spec("auto"), 3, 1), c10::Device(c10::kCUDA, 0));
  EXPECT_EQ(resolve_device(parse_device_spec("auto"), 3, 0), c10::Device(c10::kCPU));  // no GPU: the CPU
  EXPECT_EQ(resolve_device(parse_device_spec("cpu"), 1, 4), c10::Device(c10::kCPU));
  EXPECT_EQ(resolve_device(parse_device_spec("cuda:2"), 0, 4), c10::Device(c10::kCUDA, 2));
  EXPECT_EQ(resolve_device(parse_device_spec("cuda"), 3, 4), c10::Device(c10::kCUDA, 0));
  EXPECT_THAT(testsupport::message_of<UsageError>([] { resolve_device(parse_device_spec("cuda:4"), 0, 4); }),
              HasSubstr("'run.device': cuda:4 but only 4 CUDA devices are visible"));
  EXPECT_THAT(testsupport::message_of<UsageError>([] { resolve_device(parse_device_spec("cuda"), 0, 0); }),
              HasSubstr("no usable CUDA device"));
}

TEST(Model, AnExceptionInsideForwardKeepsItsOwnMessage) {
  const std::string dir = testsupport::temp_dir("model-raise");
  torch::jit::Module m("Raiser");
  m.define(R"(
def forward(self, x):
    assert bool(x.sum() < -1.0e30), "boom inside forward"
    return x
)");
  m.save(dir + "/raise.pt");
  const Model model({"raiser", dir + "/raise.pt"}, c10::kCPU);
  const std::string e = input_error_of([&] { model.fn()(at::zeros({1, 1, 8, 8})); });
  EXPECT_THAT(e, HasSubstr("model 'raiser': forward failed on input of shape 1x1x8x8: "));
  EXPECT_THAT(e, HasSubstr("boom inside forward"));
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  // What a model scripted in Python that raises ValueError("...") gives.
  const std::string scripted =
      "The following operation failed in the TorchScript interpreter.\n"
      "Traceback of TorchScript, serialized code (most recent call last):\n"
      "  File \"code/__torch__.py\", line 8, in forward\n"
      "    _0 = uninitialized(Tensor)\n"
      "    ops.prim.RaiseException(\"boom inside forward\", \"builtins.ValueError\")\n"
      "    ~~~~~~~~~~~~~~~~~~~~~~~ <--- HERE\n"
      "builtins.ValueError: boom inside forward\n";
  EXPECT_EQ(error_line(scripted), "builtins.ValueError: boom inside forward");
}

TEST(Model, OutputsThatCannotGiveAFieldAreRefusedNamingTheModel) {
  const std::string dir = testsupport::temp_dir("model-outputs");
  const auto save = [&](const std::string& name, const std::string& body) {
    torch::jit::Module m("Odd");
    m.define("def forward(self, x):\n    " + body + "\n");
    m.save(dir + "/" + name + ".pt");
    return Model({name, dir + "/" + name + ".pt"}, c10::kCPU);
  };
  const at::Tensor x = at::randn({1, 1, 8, 8});
  EXPECT_THAT(input_error_of([&] { save("ints", "return torch.flatten(x, 1).argmax(1, keepdim=True)").probe(x); }),
              HasSubstr("model 'ints': its output is an integer tensor (Long)"));
  EXPECT_THAT(input_error_of([&] { save("detached", "return torch.flatten(x, 1).detach()").probe(x); }),
              HasSubstr("model 'detached': its output does not depend on its input"));
  EXPECT_THAT(input_error_of([&] { save("empty", "return torch.flatten(x, 1)[:, 0:0]").probe(x); }),
              HasSubstr("model 'empty': its output of shape 1x0 holds no values"));
  EXPECT_THAT(input_error_of([&] { save("tuple", "return (x, x)").probe(x); }),
              HasSubstr("model 'tuple': forward must return one tensor, it returns Tuple"));
  EXPECT_THAT(input_error_of([&] { save("rows", "return torch.flatten(x, 0)").probe(x); }),
              HasSubstr("model 'rows': its output of shape 64 does not have one row per input"));
  // BatchNorm as torch.jit.trace records it in training mode (batch statistics), and
  // dropout: each input's output depends on the rest of the batch.
  EXPECT_THAT(input_error_of([&] {
                save("bn-train",
                     "return torch.flatten(torch.batch_norm(x, None, None, None, None, True, 0.1, 1e-05, False), 1)")
                    .probe(x);
              }),
              HasSubstr("model 'bn-train': its output for an input changes with the other inputs of its batch"));
  EXPECT_THAT(input_error_of([&] { save("dropout", "return torch.flatten(torch.dropout(x, 0.5, True), 1)").probe(x); }),
              HasSubstr("call model.eval() before tracing"));
  // The same BatchNorm in eval mode (running statistics) passes.
  EXPECT_EQ(save("bn-eval",
                 "return torch.flatten(torch.batch_norm(x, None, None, torch.zeros(1), torch.ones(1), "
                 "False, 0.1, 1e-05, False), 1)")
                .probe(x)
                .size(1),
            64);
}
