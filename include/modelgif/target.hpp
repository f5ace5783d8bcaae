// The scalar that is differentiated (MODELGIF.md §3). A target is fixed once
// per reference at the real input x, as a selection mask over the model's
// output; at every path point y(p) = sum(output(p) * mask).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace modelgif {

struct Target {
  enum class Kind { Predicted, Label, Class, Sum, TopK, ChannelMax };
  Kind kind = Kind::Predicted;
  int64_t k = 0;  // class index for Class, K for TopK

  // "predicted", "label", "class:K", "sum", "topk:K", "channel_max".
  static Target parse(const std::string& text);
  std::string str() const;
  bool needs_labels() const { return kind == Kind::Label; }
};

// Mask with the shape of `output_at_x` (N x ...), 1 where the target selects
// an output element. `labels` (int64, N) is used by Kind::Label only.
// Throws InputError naming `model` when the output does not fit the target.
at::Tensor target_mask(const Target& target, const at::Tensor& output_at_x, const at::Tensor& labels,
                       const std::string& model);

}  // namespace modelgif
