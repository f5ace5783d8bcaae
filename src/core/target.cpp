#include "modelgif/target.hpp"

#include <ATen/ATen.h>

#include "core/shape.hpp"
#include "modelgif/error.hpp"

namespace modelgif {
namespace {

int64_t parse_index(const std::string& text, const std::string& number, int64_t min) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != number.size() || v < min)
    throw_usage("field.target '" + text + "': expected an integer >= " + std::to_string(min) + " after ':'");
  return v;
}

}  // namespace

Target Target::parse(const std::string& text) {
  Target t;
  const auto colon = text.find(':');
  const std::string head = text.substr(0, colon);
  const bool has_arg = colon != std::string::npos;
  if (head == "class" && has_arg) {
    t.kind = Kind::Class;
    t.k = parse_index(text, text.substr(colon + 1), 0);
  } else if (head == "topk" && has_arg) {
    t.kind = Kind::TopK;
    t.k = parse_index(text, text.substr(colon + 1), 1);
  } else if (!has_arg && head == "predicted") {
    t.kind = Kind::Predicted;
  } else if (!has_arg && head == "label") {
    t.kind = Kind::Label;
  } else if (!has_arg && head == "sum") {
    t.kind = Kind::Sum;
  } else if (!has_arg && head == "channel_max") {
    t.kind = Kind::ChannelMax;
  } else {
    throw_usage("unknown field.target '" + text + "' (expected predicted, label, class:K, sum, topk:K or channel_max)");
  }
  return t;
}

std::string Target::str() const {
  switch (kind) {
    case Kind::Predicted:
      return "predicted";
    case Kind::Label:
      return "label";
    case Kind::Class:
      return "class:" + std::to_string(k);
    case Kind::Sum:
      return "sum";
    case Kind::TopK:
      return "topk:" + std::to_string(k);
    case Kind::ChannelMax:
      return "channel_max";
  }
  return "?";
}

at::Tensor target_mask(const Target& target, const at::Tensor& out, const at::Tensor& labels,
                       const std::string& model) {
  const std::string who =
      "model '" + model + "': target " + target.str() + " does not fit its output of shape " + shape_str(out.sizes());
  auto mask = at::zeros_like(out);
  switch (target.kind) {
    case Target::Kind::Sum:
      return at::ones_like(out);
    case Target::Kind::Predicted:
    case Target::Kind::Label:
    case Target::Kind::Class: {
      if (out.dim() != 2) throw_input(who + " (needs N x classes logits)");
      const int64_t classes = out.size(1);
      at::Tensor index;
      if (target.kind == Target::Kind::Predicted) {
        index = out.argmax(1);
      } else if (target.kind == Target::Kind::Class) {
        if (target.k >= classes) throw_input(who + " (class " + std::to_string(target.k) + " out of range)");
        index = at::full({out.size(0)}, target.k, out.options().dtype(at::kLong));
      } else {
        if (!labels.defined()) throw_usage("field.target label needs references.labels");
        if (labels.numel() != out.size(0))
          throw_input("model '" + model + "': " + std::to_string(labels.numel()) + " labels for " +
                      std::to_string(out.size(0)) + " references");
        index = labels.to(out.device(), at::kLong).view({-1});
        const int64_t lo = index.min().item<int64_t>(), hi = index.max().item<int64_t>();
        if (lo < 0 || hi >= classes)
          throw_input(who + " (reference label " + std::to_string(lo < 0 ? lo : hi) + " out of range)");
      }
      return mask.scatter_(1, index.view({-1, 1}), 1.0);
    }
    case Target::Kind::TopK: {
      if (out.dim() != 4) throw_input(who + " (needs N x C x H x W)");
      const int64_t hw = out.size(2) * out.size(3);
      if (target.k > hw) throw_input(who + " (K larger than H*W = " + std::to_string(hw) + ")");
      auto flat = out.reshape({out.size(0), out.size(1), hw});
      auto idx = std::get<1>(flat.topk(target.k, 2));
      return at::zeros_like(flat).scatter_(2, idx, 1.0).view_as(out);
    }
    case Target::Kind::ChannelMax: {
      if (out.dim() != 4) throw_input(who + " (needs N x C x H x W)");
      auto idx = out.argmax(1, /*keepdim=*/true);
      return mask.scatter_(1, idx, 1.0);
    }
  }
  return mask;
}

}  // namespace modelgif
