// TorchScript test models built in C++ (torch::jit::Module + define()).
#pragma once

#include <torch/script.h>

#include <functional>
#include <string>

#include "modelgif/field.hpp"

namespace testsupport {

// y = sum(a * x) per sample, output N x 1.
torch::jit::Module linear_model(const at::Tensor& a);
// Smooth CNN for 1 x 8 x 8 inputs: conv(1->4) tanh conv(4->6) tanh linear(6*8*8 -> 3).
torch::jit::Module tanh_cnn(uint64_t seed);
// Smooth ResNet-style model for 1 x 8 x 8 inputs: convolutions with BatchNorm
// (running statistics), tanh, a residual block, a strided convolution, average
// pooling, linear(16 -> 3). No kinks: rounding moves its field by rounding only.
torch::jit::Module smooth_resnet(uint64_t seed);
// The same function with conv1's output channels (and conv2's inputs) permuted.
torch::jit::Module permuted_copy(torch::jit::Module& cnn);
// Dense output N x 3 x 8 x 8: a conv(1->3, 3x3) with a tanh.
torch::jit::Module dense_model(uint64_t seed);
// A model whose output is NaN for inputs with negative entries: sqrt(x).
torch::jit::Module sqrt_model();
// Saves an 8x8 model whose forward views a convolution's output (it runs on
// contiguous inputs only) to `path`.
void save_viewer(const std::string& path);

modelgif::ModelFn fn_of(torch::jit::Module& m);
// Writes `n` seeded standard-normal references of shape 1 x 8 x 8 (the test
// models' input) to FILE:/images; returns "FILE:/images".
std::string write_random_refs(const std::string& file, int64_t n);
// The message of the E that `fn` throws, or "(no error)".
template <class E>
std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

// A fresh temporary folder for one test.
std::string temp_dir(const std::string& name);

}  // namespace testsupport
