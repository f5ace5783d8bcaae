// Debian's Fashion-MNIST (package dataset-fashion-mnist): the real data of
// the demo and the testbed zoos.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace modelgif {

constexpr const char* kFashionFolder = "/usr/share/datasets/fashion-mnist";
// The zoos' input normalization: (x - mean) / std, x in [0, 1].
constexpr double kFashionMean = 0.2860, kFashionStd = 0.3530;

// The four IDX files' folder must hold them all; throws InputError naming
// the folder and the first missing file.
void require_fashion(const std::string& folder);
// Images (N x 1 x 28 x 28 in [0, 1]) and labels (int64) of the training or test set.
void load_fashion(const std::string& folder, bool train, at::Tensor& x, at::Tensor& y);
// The test images' IDX file, as a run's references.source.
std::string fashion_test_images(const std::string& folder);

}  // namespace modelgif
