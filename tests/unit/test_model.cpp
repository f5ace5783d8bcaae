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
  m.check_accepts({1, 8, 8});
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
                m.check_accepts({3, 8, 8});
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
                d.check_accepts({1, 9, 9});
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
  EXPECT_EQ(resolve_device("cpu", 3), c10::Device(c10::kCPU));
  EXPECT_TRUE(resolve_device("auto", 1).is_cpu() || resolve_device("auto", 1).is_cuda());
  EXPECT_EQ(set_threads(3), 3);
  EXPECT_EQ(at::get_num_threads(), 3);
  EXPECT_GE(set_threads(0, 1000), 1);  // more ranks than cores: still one thread each
  set_threads(2);
}
