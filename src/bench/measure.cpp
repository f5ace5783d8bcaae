#include "bench/measure.hpp"

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <memory>
#include <sstream>

#include "modelgif/quadrature.hpp"
#include "modelgif/target.hpp"

namespace modelgif::bench {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

namespace {

bool is_conv(const std::string& op) {
  return op == "aten::conv2d" || op == "aten::convolution" || op == "aten::_convolution";
}

// The layer an op call is, or false when it is none the bench counts (string
// padding, a 1-D or 3-D convolution, inputs that are not tensors).
bool layer_of(const at::RecordFunction& fn, Layer& l) {
  const std::string op = fn.name();
  const bool conv = is_conv(op);
  if (!conv && op != "aten::linear") return false;
  const auto in = fn.inputs();
  if (in.size() < 2 || !in[0].isTensor() || !in[1].isTensor()) return false;
  l.op = op;
  l.input = in[0].toTensor().sizes().vec();
  l.weight = in[1].toTensor().sizes().vec();
  const int64_t n = std::max<int64_t>(l.input[0], 1);
  if (!conv) {
    const double rows = static_cast<double>(in[0].toTensor().numel() / l.input.back()) / static_cast<double>(n);
    l.flops = 2.0 * rows * static_cast<double>(l.weight[0] * l.weight[1]);
    return true;
  }
  if (l.input.size() != 4 || in.size() < 7 || !in[3].isIntList() || !in[4].isIntList() || !in[5].isIntList())
    return false;  // not a plain 2-D convolution (string padding, 1-D or 3-D)
  l.stride = in[3].toIntVector(), l.padding = in[4].toIntVector(), l.dilation = in[5].toIntVector();
  l.groups = in[op == "aten::conv2d" ? 6 : 8].toInt();
  double out = 1;
  for (size_t d = 0; d < 2; ++d)
    out *= static_cast<double>(
        (l.input[2 + d] + 2 * l.padding[d] - l.dilation[d] * (l.weight[2 + d] - 1) - 1) / l.stride[d] + 1);
  l.flops = 2.0 * out * static_cast<double>(l.weight[0] * l.weight[1] * l.weight[2] * l.weight[3]);
  return true;
}

// Records the layers of the ops that run on this thread while it lives.
// LibTorch calls a RecordFunction callback as a plain function, without a
// pointer of ours, so the callback finds the recorder through `active_`,
// which the constructor sets and the destructor resets (to the recorder it
// replaced, if any). The pointer is thread_local, as the callback is: it is
// added for this thread alone.
class LayerRecorder {
 public:
  LayerRecorder() : outer_(active_) {
    active_ = this;
    handle_ = at::addThreadLocalCallback(
        at::RecordFunctionCallback(&observe).needsInputs(true).scopes({at::RecordScope::FUNCTION}));
  }
  ~LayerRecorder() {
    at::removeCallback(handle_);
    active_ = outer_;
  }
  LayerRecorder(const LayerRecorder&) = delete;
  LayerRecorder& operator=(const LayerRecorder&) = delete;

  std::vector<Layer> take() { return std::move(layers_); }

 private:
  static std::unique_ptr<at::ObserverContext> observe(const at::RecordFunction& fn) {
    Layer l;
    if (active_ != nullptr && layer_of(fn, l)) active_->layers_.push_back(std::move(l));
    return nullptr;
  }

  static thread_local LayerRecorder* active_;
  LayerRecorder* outer_;
  at::CallbackHandle handle_ = 0;
  std::vector<Layer> layers_;
};

thread_local LayerRecorder* LayerRecorder::active_ = nullptr;

}  // namespace

std::vector<Layer> record_layers(const ModelFn& fn, const at::Tensor& one) {
  std::vector<Layer> all;
  {
    LayerRecorder recorder;
    at::NoGradGuard no_grad;
    fn(one);
    all = recorder.take();
  }
  for (const char* outer : {"aten::conv2d", "aten::convolution", "aten::_convolution"}) {
    if (std::none_of(all.begin(), all.end(), [&](const Layer& l) { return l.op == outer; })) continue;
    std::vector<Layer> kept;
    for (const auto& l : all)
      if (l.op == outer || l.op == "aten::linear") kept.push_back(l);
    return kept;
  }
  return all;
}

double total_flops(const std::vector<Layer>& layers, bool convs_only) {
  double f = 0;
  for (const auto& l : layers)
    if (!convs_only || l.op != "aten::linear") f += l.flops;
  return f;
}

ConvSet make_convs(const std::vector<Layer>& layers, int64_t batch, Numerics num) {
  ConvSet set;
  for (const auto& l : layers) {
    if (l.op == "aten::linear") continue;
    const at::Tensor x = at::rand({batch, l.input[1], l.input[2], l.input[3]}).to(num.dtype).contiguous(num.format);
    const at::Tensor w = at::rand(l.weight).to(num.dtype).contiguous(num.format);
    set.inputs.emplace_back(x, w);
    set.layers.push_back(&l);
  }
  return set;
}

double time_convs(const ConvSet& set) {
  at::NoGradGuard no_grad;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < set.layers.size(); ++i) {
    const Layer& l = *set.layers[i];
    at::conv2d(set.inputs[i].first, set.inputs[i].second, {}, l.stride, l.padding, l.dilation, l.groups);
  }
  return seconds_since(t0);
}

at::Tensor published_loop(const ModelFn& fn, const at::Tensor& x, const at::Tensor& b, const FieldSpec& spec) {
  const int64_t n = x.size(0), S = spec.steps;
  const Quadrature q = make_quadrature(spec.rule, spec.steps);
  const at::Tensor alpha = at::tensor(q.nodes, at::kDouble).to(at::kFloat).view({1, S, 1, 1, 1});
  const at::Tensor w = at::tensor(q.weights, at::kDouble).to(at::kFloat).view({1, S, 1, 1, 1});
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < n; i += 2) {
    const at::Tensor xi = x.slice(0, i, std::min(n, i + 2)), bi = b.slice(0, i, std::min(n, i + 2));
    const int64_t r = xi.size(0);
    at::Tensor mask;
    {
      at::NoGradGuard no_grad;
      mask = target_mask(spec.target, fn(xi), at::Tensor(), "bench").repeat_interleave(S, 0);
    }
    const at::Tensor diff = (xi - bi).unsqueeze(1);
    const at::Tensor pts = (bi.unsqueeze(1) + alpha * diff).flatten(0, 1).detach().requires_grad_(true);
    const at::Tensor y = (fn(pts) * mask).sum();
    const at::Tensor g = torch::autograd::grad({y}, {pts})[0].view({r, S, x.size(1), x.size(2), x.size(3)}) * w;
    out.push_back((g.cumsum(1) * diff).flatten(2));
  }
  return at::cat(out);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::string spread(const std::vector<double>& v, int precision) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(precision) << median(v) << " [" << *std::min_element(v.begin(), v.end()) << ", "
    << *std::max_element(v.begin(), v.end()) << "]";
  return o.str();
}

bool stable(const std::vector<Series>& series, size_t window, double tolerance) {
  for (const auto& s : series) {
    if (s.values.size() < window + 1) return false;
    const std::vector<double> before(s.values.end() - static_cast<long>(window) - 1, s.values.end() - 1);
    const std::vector<double> now(s.values.end() - static_cast<long>(window), s.values.end());
    if (std::fabs(median(now) / median(before) - 1) > tolerance) return false;
  }
  return true;
}

std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r;
  for (size_t i = 0; i < a.size(); ++i) r.push_back(a[i] / b[i]);
  return r;
}

}  // namespace modelgif::bench
