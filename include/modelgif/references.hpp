// Reference sets: images that fields are taken on, loaded from an HDF5
// dataset, Fashion-MNIST style IDX files (plain or .gz), or a folder of
// PNG/JPEG images, then selected, resized and preprocessed into the models'
// input space.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "modelgif/config.hpp"

namespace modelgif {

struct ReferenceSet {
  at::Tensor images;                   // N x C x H x W, float32, preprocessed
  at::Tensor labels;                   // int64 N, or undefined when the source has none
  std::vector<int64_t> indices;        // position of each reference in its source
  std::string source;                  // description for logs and metadata
  std::vector<int64_t> shape() const;  // C, H, W
};

ReferenceSet load_references(const ReferenceConfig& cfg);

// Raw readers, exposed for tests.
// IDX file (optionally gzip-compressed) as a uint8 tensor of its stored dims.
at::Tensor read_idx(const std::string& path);
// Folder of images: either files directly inside, or one subfolder per class
// (labels = class index in name order). Returns uint8 N x C x H x W.
at::Tensor read_image_folder(const std::string& dir, int64_t channels, const std::vector<int64_t>& resize,
                             at::Tensor* labels);
// Splits "file.h5:/dataset"; returns false when `spec` has no ":/".
bool split_h5_spec(const std::string& spec, std::string& file, std::string& dataset);

// CutMix (Yun et al. 2019) as MODELGIF.md's relatedness references: into every
// image, a box of its partner in a seeded derangement, the box's area a
// uniform fraction of the image, its centre uniform (clipped at the border).
// Labels stay those of the image the box is pasted into.
at::Tensor cutmix(const at::Tensor& images, uint64_t seed);

// Baselines for `images` (N x C x H x W): zeros, a constant, or a seeded
// derangement of the references themselves.
at::Tensor make_baselines(const BaselineConfig& baseline, const at::Tensor& images);

}  // namespace modelgif
