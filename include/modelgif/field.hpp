// Gradient fields of one model on a block of references (MODELGIF.md §4).
//   g_k = w_k * grad_p y(p) at p = b + alpha_k (x - b)
//   G_k = sum_{j<=k} g_j            (cumulative; or G_k = g_k per step)
//   F_k = G_k * (x - b)             (optional)
// then an optional mean over channels and a subset of steps.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "modelgif/quadrature.hpp"
#include "modelgif/target.hpp"

namespace modelgif {

enum class ChannelReduce { None, Mean };
enum class KeptSteps { All, LastHalf, FirstHalf, Odd };

ChannelReduce parse_channel_reduce(const std::string& s);
KeptSteps parse_kept_steps(const std::string& s);
std::string to_string(ChannelReduce r);
std::string to_string(KeptSteps k);

// 0-based indices of the steps kept out of S: all; last_half k > S/2 (1-based);
// first_half k <= S/2; odd: every second step starting at the second.
std::vector<int64_t> kept_step_indices(KeptSteps kept, int steps);

struct FieldSpec {
  QuadratureRule rule = QuadratureRule::GaussLegendre;
  int steps = 50;
  Target target;
  bool cumulative = true;
  bool multiply_by_input = true;
  ChannelReduce reduce = ChannelReduce::None;
  KeptSteps kept = KeptSteps::All;
};

// A model as the engine sees it: a differentiable function of a batch.
using ModelFn = std::function<at::Tensor(const at::Tensor&)>;

// Computes fields for one model, in micro-batches of at most `max_points`
// path points. When a micro-batch ends inside a reference's steps, the running
// cumulative sum is carried into the next micro-batch (adding chunk results,
// as a popular attribution library does, would be wrong for cumulative fields).
class FieldEngine {
 public:
  FieldEngine(FieldSpec spec, int64_t max_points, c10::Device device);

  const FieldSpec& spec() const { return spec_; }
  const Quadrature& quadrature() const { return quad_; }
  int64_t kept_steps() const { return static_cast<int64_t>(kept_.size()); }
  // Features per step for a reference shape C x H x W.
  int64_t features(const std::vector<int64_t>& ref_shape) const;

  // x, b: n x C x H x W (float32, any device); labels: int64 n (or undefined).
  // `first_ref` is the global index of x[0], used only in error messages.
  // Returns n x S' x D, float32, on the CPU.
  // `keep_going`, when set, is asked after every micro-batch; when it says
  // false the computation stops there and `*completed` tells how many leading
  // references have their whole field (the rest of the result is undefined).
  at::Tensor compute(const ModelFn& model, const std::string& model_name, const at::Tensor& x, const at::Tensor& b,
                     const at::Tensor& labels, int64_t first_ref = 0, const std::function<bool()>& keep_going = {},
                     int64_t* completed = nullptr) const;

 private:
  FieldSpec spec_;
  int64_t max_points_;
  c10::Device device_;
  Quadrature quad_;
  std::vector<int64_t> kept_;
};

// Picks a micro-batch size for `model` on this device: times forward+backward
// on batches of 8, 16, 32, ... points (copies of `sample`, 1 x C x H x W) up to
// `limit` and returns the fastest per point. Small batches keep activations in
// cache on CPUs; GPUs prefer large ones. Results do not depend on the choice
// beyond rounding (tested to 1e-6).
int64_t tune_max_points(const ModelFn& model, const at::Tensor& sample, c10::Device device, int64_t limit,
                        double* points_per_second = nullptr);

}  // namespace modelgif
