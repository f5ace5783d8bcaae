#include "modelgif/field.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <chrono>

#include "modelgif/error.hpp"

namespace modelgif {

ChannelReduce parse_channel_reduce(const std::string& s) {
  if (s == "none") return ChannelReduce::None;
  if (s == "mean") return ChannelReduce::Mean;
  throw_usage("unknown field.reduce_channels '" + s + "' (expected none or mean)");
}

KeptSteps parse_kept_steps(const std::string& s) {
  if (s == "all") return KeptSteps::All;
  if (s == "last_half") return KeptSteps::LastHalf;
  if (s == "first_half") return KeptSteps::FirstHalf;
  if (s == "odd") return KeptSteps::Odd;
  if (s == "last") return KeptSteps::Last;
  throw_usage("unknown field.keep_steps '" + s + "' (expected all, last_half, first_half, odd or last)");
}

std::string to_string(ChannelReduce r) { return r == ChannelReduce::Mean ? "mean" : "none"; }

std::string to_string(KeptSteps k) {
  switch (k) {
    case KeptSteps::All:
      return "all";
    case KeptSteps::LastHalf:
      return "last_half";
    case KeptSteps::FirstHalf:
      return "first_half";
    case KeptSteps::Odd:
      return "odd";
    case KeptSteps::Last:
      return "last";
  }
  return "?";
}

std::vector<int64_t> kept_step_indices(KeptSteps kept, int steps) {
  std::vector<int64_t> idx;
  for (int k = 1; k <= steps; ++k) {  // 1-based, as in MODELGIF.md
    const bool keep = kept == KeptSteps::All || (kept == KeptSteps::LastHalf && k > steps / 2) ||
                      (kept == KeptSteps::FirstHalf && k <= steps / 2) || (kept == KeptSteps::Odd && k % 2 == 0) ||
                      (kept == KeptSteps::Last && k == steps);
    if (keep) idx.push_back(k - 1);
  }
  if (idx.empty()) throw_usage("field.keep_steps " + to_string(kept) + " keeps no step of " + std::to_string(steps));
  return idx;
}

std::string precision_name(at::ScalarType dtype) { return dtype == at::kBFloat16 ? "bfloat16" : "float32"; }

std::string memory_format_name(at::MemoryFormat format) {
  return format == at::MemoryFormat::ChannelsLast ? "channels_last" : "contiguous";
}

at::ScalarType parse_precision(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  throw_usage("unknown precision '" + name + "' (expected float32 or bfloat16)");
}

at::MemoryFormat parse_memory_format(const std::string& name) {
  if (name == "contiguous") return at::MemoryFormat::Contiguous;
  if (name == "channels_last") return at::MemoryFormat::ChannelsLast;
  throw_usage("unknown memory format '" + name + "' (expected contiguous or channels_last)");
}

FieldEngine::FieldEngine(FieldSpec spec, int64_t max_points, c10::Device device, Numerics numerics)
    : spec_(std::move(spec)), max_points_(max_points), device_(device), numerics_(numerics) {
  if (max_points_ < 1) throw_usage("run.max_points must be >= 1, got " + std::to_string(max_points_));
  quad_ = make_quadrature(spec_.rule, spec_.steps);
  kept_ = kept_step_indices(spec_.kept, spec_.steps);
}

int64_t FieldEngine::features(const std::vector<int64_t>& s) const {
  if (s.size() != 3) throw_input("references must be C x H x W images");
  return spec_.reduce == ChannelReduce::Mean ? s[1] * s[2] : s[0] * s[1] * s[2];
}

// One call of compute: the request's tensors on the engine's device, the
// target mask fixed at x, and the result, filled micro-batch by micro-batch
// with the running cumulative sum carried from one to the next.
struct FieldEngine::Pass {
  Pass(const FieldEngine& engine, const FieldRequest& request);
  FieldResult run();

  // What the model is given: its precision and memory layout.
  at::Tensor to_model(const at::Tensor& t) const {
    return t.to(engine.numerics_.dtype).contiguous(engine.numerics_.format);
  }
  OutOfMemory out_of_memory() const;
  at::Tensor mask_at_x() const;
  at::Tensor gradient(const at::Tensor& ref, const at::Tensor& step) const;
  at::Tensor cumulative(const at::Tensor& g, int64_t start, int64_t len);
  void micro_batch(int64_t start, int64_t len);
  FieldResult finish(int64_t done) const;

  const FieldEngine& engine;
  const FieldRequest& request;
  const int64_t n, S, total;  // references, steps, path points
  const at::TensorOptions opts;
  const at::Tensor x, b, diff;
  const int64_t D;
  at::Tensor mask;
  at::Tensor nodes, weights;
  at::Tensor kept_pos;  // position of each step among the kept ones (-1: dropped)
  at::Tensor result;
  at::Tensor carry;  // running G of the reference cut by the last micro-batch
  // The first path point with a non-finite gradient, kept on the device and
  // looked at once, when the piece ends: no synchronisation per micro-batch.
  at::Tensor first_bad;
};

FieldEngine::Pass::Pass(const FieldEngine& e, const FieldRequest& r)
    : engine(e),
      request(r),
      n(r.x.size(0)),
      S(e.spec_.steps),
      total(n * S),
      opts(at::TensorOptions().dtype(at::kFloat).device(e.device_)),
      x(r.x.to(opts)),
      b(r.b.to(opts)),
      diff(x - b),
      D(e.features(std::vector<int64_t>(x.sizes().begin() + 1, x.sizes().end()))) {
  mask = mask_at_x();
  std::vector<int64_t> pos(static_cast<size_t>(S), -1);
  for (size_t j = 0; j < e.kept_.size(); ++j) pos[static_cast<size_t>(e.kept_[j])] = static_cast<int64_t>(j);
  nodes = at::tensor(e.quad_.nodes, at::kDouble).to(opts);
  weights = at::tensor(e.quad_.weights, at::kDouble).to(opts);
  kept_pos = at::tensor(pos, at::kLong).to(e.device_);
  result = at::empty({n, e.kept_steps(), D}, opts);
  first_bad = at::full({}, total, at::TensorOptions().dtype(at::kLong).device(e.device_));
}

OutOfMemory FieldEngine::Pass::out_of_memory() const {
  return OutOfMemory("model '" + request.model_name + "': out of memory on " + engine.device_.str() +
                     " with micro-batches of " + std::to_string(engine.max_points_) +
                     " path points (lower run.max_points)");
}

// Target masks at the real inputs, in micro-batches of references.
at::Tensor FieldEngine::Pass::mask_at_x() const {
  const int64_t batch = engine.max_points_;
  try {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> outs;
    for (int64_t i = 0; i < n; i += batch) {
      const at::Tensor xi = x.slice(0, i, std::min(n, i + batch));
      outs.push_back(request.target_model ? (*request.target_model)(xi) : request.model(to_model(xi)).to(at::kFloat));
    }
    const at::Tensor& labels = request.labels;
    return target_mask(engine.spec_.target, at::cat(outs), labels.defined() ? labels.to(engine.device_) : labels,
                       request.model_name);
  } catch (const c10::OutOfMemoryError&) {
    throw out_of_memory();
  }
}

// w_k * grad_p y(p) at the path points of references `ref`, steps `step`.
at::Tensor FieldEngine::Pass::gradient(const at::Tensor& ref, const at::Tensor& step) const {
  const auto bcast = [](const at::Tensor& v) { return v.view({-1, 1, 1, 1}); };
  at::Tensor pts = to_model(b.index_select(0, ref) + bcast(nodes.index_select(0, step)) * diff.index_select(0, ref))
                       .detach()
                       .requires_grad_(true);
  try {
    at::Tensor out = request.model(pts);
    at::Tensor y = (out.to(at::kFloat) * mask.index_select(0, ref)).sum();
    return torch::autograd::grad({y}, {pts})[0].detach().to(at::kFloat).contiguous() *
           bcast(weights.index_select(0, step));
  } catch (const c10::OutOfMemoryError&) {
    throw out_of_memory();
  }
}

// Cumulative sums within each reference's run of steps in the micro-batch of
// `len` points from `start`: whole references at once; a reference cut by
// the micro-batch's start continues the carried sum, one cut by its end
// leaves its running sum in `carry`.
at::Tensor FieldEngine::Pass::cumulative(const at::Tensor& g, int64_t start, int64_t len) {
  std::vector<at::Tensor> pieces;
  int64_t pos = 0;
  while (pos < len) {
    const int64_t k0 = (start + pos) % S;
    if (k0 == 0 && len - pos >= S) {  // whole references
      const int64_t r = (len - pos) / S;
      auto whole = g.slice(0, pos, pos + r * S);
      pieces.push_back(whole.view({r, S, -1}).cumsum(1).view_as(whole));
      pos += r * S;
    } else {  // part of one reference: continue (k0 > 0) or start (k0 == 0) its sum
      const int64_t m = std::min(S - k0, len - pos);
      auto part = g.slice(0, pos, pos + m).cumsum(0);
      if (k0 > 0) part = part + carry;
      carry = part[m - 1].unsqueeze(0);
      pieces.push_back(part);
      pos += m;
    }
  }
  return pieces.size() == 1 ? pieces[0] : at::cat(pieces);
}

// The path points start .. start + len - 1 (point p is step p mod S of
// reference p / S) into the result: gradients, cumulative sums, times x - b,
// the channel mean, the kept steps.
void FieldEngine::Pass::micro_batch(int64_t start, int64_t len) {
  const auto flat = at::arange(start, start + len, at::TensorOptions().dtype(at::kLong).device(engine.device_));
  const auto ref = flat.div(S, "floor"), step = flat.remainder(S);
  at::Tensor g = gradient(ref, step);

  const at::Tensor nonfinite = at::isfinite(g).flatten(1).all(1).logical_not();
  first_bad = at::minimum(first_bad, at::where(nonfinite, flat, at::full_like(flat, total)).min());

  if (engine.spec_.cumulative) g = cumulative(g, start, len);
  at::Tensor F = engine.spec_.multiply_by_input ? g * diff.index_select(0, ref) : g;
  if (engine.spec_.reduce == ChannelReduce::Mean) F = F.mean(1);
  F = F.reshape({len, D});

  const auto pos = kept_pos.index_select(0, step);
  const auto keep = pos.ge(0);
  result.index_put_({ref.masked_select(keep), pos.masked_select(keep)}, F.index({keep}));
}

FieldResult FieldEngine::Pass::finish(int64_t done) const {
  const int64_t bad = first_bad.item<int64_t>();
  if (bad < total)
    throw NumericError("model '" + request.model_name + "': gradient field is NaN/Inf at reference " +
                       std::to_string(request.first_ref + bad / S) + " (step " + std::to_string(bad % S + 1) + ")");
  return {result, done};
}

FieldResult FieldEngine::Pass::run() {
  for (int64_t start = 0; start < total; start += engine.max_points_) {
    const int64_t len = std::min(engine.max_points_, total - start);
    micro_batch(start, len);
    if (request.keep_going && start + len < total && !request.keep_going()) return finish((start + len) / S);
  }
  return finish(n);
}

FieldResult FieldEngine::compute(const FieldRequest& request) const { return Pass(*this, request).run(); }

int64_t tuning_limit(c10::Device device) { return device.is_cuda() ? 8192 : 256; }

namespace {

// Path points per second of `spec`'s field loop (its target the sum) with
// micro-batches of `n` points, on the first references of `samples` (distinct
// images: copies of one would flatter data-dependent kernels such as
// max-pooling, whose branches then repeat exactly), from black baselines: the
// fastest of a few passes, since interference from the rest of the machine
// only ever slows a pass down.
double field_rate(const ModelFn& model, const std::string& name, const FieldSpec& spec, const at::Tensor& samples,
                  c10::Device device, Numerics numerics, int64_t n) {
  const int64_t S = spec.steps;
  const int64_t refs = std::min<int64_t>(samples.size(0), (n + S - 1) / S);  // a micro-batch at least
  const at::Tensor x = samples.slice(0, 0, refs), b = at::zeros_like(x);
  const FieldEngine engine(spec, n, device, numerics);
  // Ends with a value on the host: the device has finished.
  auto pass = [&] { engine.compute({model, name, x, b}).field.sum().item<double>(); };
  pass();  // warm-up: allocator, kernels
  double fastest = 0, spent = 0;
  for (int reps = 0; reps < 2 || (spent < 0.03 && reps < 10); ++reps) {
    const auto t0 = std::chrono::steady_clock::now();
    pass();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fastest = reps == 0 ? secs : std::min(fastest, secs);
    spent += secs;
  }
  return static_cast<double>(refs * S) / fastest;
}

}  // namespace

Tuning tune_max_points(const ModelFn& model, const std::string& name, const FieldSpec& spec, const at::Tensor& samples,
                       c10::Device device, int64_t limit, Numerics numerics, int64_t only) {
  // The loop that runs; the target is the references' sum: the same work
  // without labels.
  FieldSpec tuning = spec;
  tuning.target = Target::parse("sum");
  const int64_t S = spec.steps;
  Tuning best{1, 0.0};
  int worse = 0;
  // Sizes up to `limit`, and no larger than the samples' points: beyond them
  // a batch holds the same work (and a run's pieces are no larger either).
  const int64_t points = samples.size(0) * S;
  int64_t cap = 8;
  while (cap < std::min(limit, points)) cap *= 2;
  const int64_t first = only > 0 ? only : 8, last = only > 0 ? only : std::max<int64_t>(std::min(limit, cap), 8);
  for (int64_t n = first; n <= last; n *= 2) {
    double rate = 0;
    try {
      rate = field_rate(model, name, tuning, samples, device, numerics, n);
    } catch (const OutOfMemory&) {  // in the field loop
      if (n == first) throw;
      break;                                  // the device is full: the sizes below fit
    } catch (const c10::OutOfMemoryError&) {  // around it
      if (n == first)
        throw_input("out of memory on " + device.str() + " with " + std::to_string(n) +
                    " path points: the model is too large for it");
      break;  // the device is full: the sizes below fit
    }
    // A larger batch must be clearly faster (3 %): on a flat curve, noise
    // alone would walk the sweep up to `limit`, costing time and memory.
    if (rate > best.points_per_second * (best.points_per_second > 0 ? 1.03 : 1.0)) {
      best = {n, rate}, worse = 0;
    } else if (++worse == 2) {
      break;  // past the cache-friendly size: larger only gets slower
    }
  }
  return best;
}

}  // namespace modelgif
