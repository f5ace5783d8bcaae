// Gradient fields of one model on a block of references (MODELGIF.md §4).
//   g_k = w_k * grad_p y(p) at p = b + alpha_k (x - b)
//   G_k = sum_{j<=k} g_j            (cumulative; or G_k = g_k per step)
//   F_k = G_k * (x - b)             (optional)
// then an optional mean over channels and a subset of steps.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/MemoryFormat.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "modelgif/quadrature.hpp"
#include "modelgif/target.hpp"

namespace modelgif {

enum class ChannelReduce { None, Mean };
enum class KeptSteps { All, LastHalf, FirstHalf, Odd, Last };

ChannelReduce parse_channel_reduce(const std::string& s);
KeptSteps parse_kept_steps(const std::string& s);
std::string to_string(ChannelReduce r);
std::string to_string(KeptSteps k);

// 0-based indices of the steps kept out of S: all; last_half k > S/2 (1-based);
// first_half k <= S/2; odd: every second step starting at the second; last: k = S
// (with cumulative fields times x - b: the integrated-gradients attribution).
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

// How the model is evaluated (run.precision, run.memory_format). In bfloat16
// the path points go to the model in bfloat16 (its parameters must be too);
// its gradient is converted to float32 before the quadrature weights, and the
// cumulative sum, the multiplication by x - b and everything after stay
// float32 (distances are float64 sums). Channels-last changes only the
// memory layout the model's convolutions see.
struct Numerics {
  at::ScalarType dtype = at::kFloat;  // kFloat or kBFloat16
  at::MemoryFormat format = at::MemoryFormat::Contiguous;
};
std::string precision_name(at::ScalarType dtype);         // "float32", "bfloat16"
std::string memory_format_name(at::MemoryFormat format);  // "contiguous", "channels_last"
at::ScalarType parse_precision(const std::string& name);  // UsageError for others
at::MemoryFormat parse_memory_format(const std::string& name);

// What FieldEngine::compute is asked for: the fields of one model on a block
// of references. The members without a default are required.
struct FieldRequest {
  const ModelFn& model;
  std::string model_name;  // in error messages
  at::Tensor x, b;         // n x C x H x W (float32, any device)
  at::Tensor labels{};     // int64 n (or undefined)
  // The global index of x[0], used only in error messages.
  int64_t first_ref = 0;
  // When set, asked after every micro-batch; when it says false the
  // computation stops there (see FieldResult::completed).
  std::function<bool()> keep_going{};
  // When given, the model whose float32 output at x fixes the target (the
  // same function in float32, for a bfloat16 `model`: a near-tie must not
  // pick another class than a float32 run would).
  const ModelFn* target_model = nullptr;
};

// What it returns.
struct FieldResult {
  // n x S' x D, float32, on the engine's device (a CUDA rank keeps its fields
  // there for the pair sums).
  at::Tensor field;
  // How many leading references have their whole field: n, unless
  // keep_going stopped the computation (the rest of `field` is undefined).
  int64_t completed = 0;
};

// Computes fields for one model, in micro-batches of at most `max_points`
// path points. When a micro-batch ends inside a reference's steps, the running
// cumulative sum is carried into the next micro-batch (adding chunk results,
// as a popular attribution library does, would be wrong for cumulative fields).
class FieldEngine {
 public:
  FieldEngine(FieldSpec spec, int64_t max_points, c10::Device device, Numerics numerics = {});

  const FieldSpec& spec() const { return spec_; }
  const Quadrature& quadrature() const { return quad_; }
  int64_t kept_steps() const { return static_cast<int64_t>(kept_.size()); }
  // Features per step for a reference shape C x H x W.
  int64_t features(const std::vector<int64_t>& ref_shape) const;

  // NaN/Inf in the gradient is looked for on the device and reported once,
  // when the call ends (NumericError naming the reference and step); running
  // out of device memory is an OutOfMemory naming the model.
  FieldResult compute(const FieldRequest& request) const;

 private:
  struct Pass;  // one call of compute (field.cpp)

  FieldSpec spec_;
  int64_t max_points_;
  c10::Device device_;
  Numerics numerics_;
  Quadrature quad_;
  std::vector<int64_t> kept_;
};

// Picks a micro-batch size for `model` on this device: times the field loop
// (FieldEngine::compute of `spec`, in `numerics`) on the first references of
// `samples` (K x C x H x W) with micro-batches of 8, 16, 32, ... path points
// up to `limit`, or of `only` points when `only` > 0, and returns the fastest
// per point with its rate. Small batches keep activations in cache on CPUs;
// GPUs prefer large ones. Results do not depend on the choice beyond rounding
// (tested to 1e-6).
// The largest micro-batch tuning tries: 8192 path points on a GPU; 256 on a
// CPU, where beyond a few hundred points the loop gains nothing once freed
// memory is kept (within 5 % from 32 to 1024 on the bench's CNNs) and timing
// the large ones costs the most.
int64_t tuning_limit(c10::Device device);
struct Tuning {
  int64_t max_points = 0;
  double points_per_second = 0;
};
Tuning tune_max_points(const ModelFn& model, const std::string& name, const FieldSpec& spec, const at::Tensor& samples,
                       c10::Device device, int64_t limit, Numerics numerics = {}, int64_t only = 0);

}  // namespace modelgif
