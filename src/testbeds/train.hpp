// Small classifiers built and trained with LibTorch in C++ and saved as
// TorchScript: the built-in Fashion-MNIST zoo and the test models.
#pragma once

#include <torch/script.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace modelgif {

// Fresh parameters: He-normal weights from the global generator, zero biases.
at::Tensor he_normal(std::vector<int64_t> shape, int64_t fan_in);
at::Tensor zero_bias(int64_t n);

// Architectures for 1 x 28 x 28 inputs ("cnn_a": 2 conv 3x3 + 2 fc,
// "cnn_b": 2 conv 5x5 + 1 fc, "cnn_deep": 3 conv 3x3 of 32/64/64 channels +
// 1 fc, "resnet_mini": a stem and two residual blocks with BatchNorm, global
// average pooling + 1 fc). Parameters initialised from `seed`; the module
// carries an `input_shape` attribute. Throws UsageError for an unknown arch.
torch::jit::Module make_classifier(const std::string& arch, int64_t classes, uint64_t seed);

struct TrainSpec {
  int epochs = 1;
  double lr = 1e-3;
  int64_t batch = 128;
  uint64_t seed = 0;
  bool flip = false;  // random horizontal flips
};

// Adam on cross-entropy. `masks` (one per parameter, or empty) keep pruned
// weights at zero. Returns the mean loss of the last epoch.
double train_classifier(torch::jit::Module& model, const at::Tensor& x, const at::Tensor& y, const TrainSpec& spec,
                        const std::vector<at::Tensor>& masks = {});
double accuracy(torch::jit::Module& model, const at::Tensor& x, const at::Tensor& y);

// The training loop itself: Adam over shuffled mini-batches of n examples;
// `batch_loss(indices, flips)` returns the loss of one batch (`flips`, a bool
// per example, is defined when spec.flip is set). Returns the last epoch's mean loss.
double train_loop(torch::jit::Module& model, int64_t n, const TrainSpec& spec, const std::vector<at::Tensor>& masks,
                  const std::function<at::Tensor(const at::Tensor& idx, const at::Tensor& flip)>& batch_loss);
at::Tensor apply_flip(const at::Tensor& xb, const at::Tensor& flip);

// Zeroes the `ratio` smallest-magnitude entries of every weight with more than
// one dimension (per tensor); returns the masks (ones for biases).
std::vector<at::Tensor> prune_magnitude(torch::jit::Module& model, double ratio);

}  // namespace modelgif
