#include "modelgif/model.hpp"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <thread>

#include "base/files.hpp"
#include "base/hash.hpp"
#include "core/shape.hpp"
#include "modelgif/error.hpp"

namespace modelgif {
struct Model::Impl {
  torch::jit::Module module;
  c10::Device device = c10::kCPU;
  Numerics numerics;                          // as loaded: float32, contiguous
  std::optional<torch::jit::Module> float32;  // a copy as loaded, while `module` is in another precision
};

namespace {

ModelFn forward_of(torch::jit::Module* module, const std::string& name) {
  return [module, name](const at::Tensor& x) {
    c10::IValue out;
    try {
      out = module->forward({x});
    } catch (const std::exception& e) {
      throw InputError("model '" + name + "': forward failed on input of shape " + shape_str(x.sizes()) + ": " +
                       error_line(e.what()));
    }
    if (!out.isTensor()) throw InputError("model '" + name + "': forward must return one tensor");
    return out.toTensor();
  };
}

}  // namespace

Model::Model(const ZooEntry& entry, c10::Device device)
    : name_(entry.name), path_(entry.path), impl_(std::make_unique<Impl>()) {
  require_file(path_, "model '" + name_ + "'");
  try {
    impl_->module = torch::jit::load(path_, device);
  } catch (const std::exception& e) {
    throw_input("model '" + name_ + "': " + path_ + " is not a TorchScript archive (" + error_line(e.what()) +
                "); a file of torch.save (a model or a state_dict) is not one: export with "
                "torch.jit.script(model.eval()).save(PATH)");
  }
  impl_->device = device;
  impl_->module.eval();
  for (auto p : impl_->module.parameters()) p.requires_grad_(false);
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

ModelFn Model::fn() const { return forward_of(&impl_->module, name_); }

ModelFn Model::float32_fn() const { return forward_of(impl_->float32 ? &*impl_->float32 : &impl_->module, name_); }

at::Tensor Model::probe(const at::Tensor& sample) const {
  auto& m = impl_->module;
  const std::vector<int64_t> ref_shape(sample.sizes().begin() + 1, sample.sizes().end());
  if (m.hasattr("input_shape")) {
    std::vector<int64_t> want;
    try {
      want = m.attr("input_shape").toIntVector();
    } catch (const c10::Error&) {
      throw_input("model '" + name_ + "': attribute input_shape must be a list of ints");
    }
    if (want != ref_shape)
      throw_input("model '" + name_ + "' expects inputs of shape " + shape_str(want) + ", references are " +
                  shape_str(ref_shape));
  }
  const at::Tensor x = sample.to(impl_->device, at::kFloat).detach().requires_grad_(true);
  c10::IValue out;
  try {
    out = m.forward({x});
  } catch (const std::exception& e) {
    throw_input("model '" + name_ + "' does not accept references of shape " + shape_str(ref_shape) + ": " +
                error_line(e.what()));
  }
  const std::string who = "model '" + name_ + "': ";
  if (!out.isTensor())
    throw_input(who + "forward must return one tensor, it returns " + out.tagKind() +
                " (wrap it: return the logits or feature map only)");
  const at::Tensor y = out.toTensor();
  if (!at::isFloatingType(y.scalar_type()))
    throw_input(who + "its output is an integer tensor (" + std::string(c10::toString(y.scalar_type())) +
                "): a gradient field needs floating-point logits or feature maps");
  if (y.dim() < 1 || y.size(0) != x.size(0))
    throw_input(who + "its output of shape " + shape_str(y.sizes()) + " does not have one row per input (" +
                std::to_string(x.size(0)) + " inputs)");
  if (y.numel() == 0) throw_input(who + "its output of shape " + shape_str(y.sizes()) + " holds no values");
  if (!y.requires_grad())
    throw_input(who + "its output does not depend on its input (no gradient flows back: is it detached?)");
  // Each input's output must not depend on the rest of its micro-batch (BatchNorm
  // recorded in training mode by torch.jit.trace, which eval() cannot undo, or
  // dropout): its field would then depend on run.max_points.
  at::Tensor y2;
  try {
    const at::NoGradGuard no_grad;
    const c10::IValue out2 = m.forward({at::cat({x.detach(), x.detach().flip({-1}) * 0.5 + 0.25})});
    if (out2.isTensor()) y2 = out2.toTensor();
  } catch (const std::exception&) {  // a model that takes one input at a time: nothing to compare
  }
  if (y2.defined() && y2.dim() >= 1 && y2.size(0) == 2 && y2.sizes().slice(1) == y.sizes().slice(1)) {
    const double diff = (y2.slice(0, 0, 1).to(at::kDouble) - y.detach().to(at::kDouble)).abs().max().item<double>();
    const double scale = y.detach().abs().max().item<double>();
    if (std::isfinite(diff) && diff > 1e-3 * scale + 1e-6)  // NaN outputs are named later, with their reference
      throw_input(who + "its output for an input changes with the other inputs of its batch (by " +
                  std::to_string(diff / std::max(scale, 1e-30)) +
                  " of its largest value): BatchNorm or dropout in training mode? torch.jit.trace keeps the mode "
                  "the model was traced in: call model.eval() before tracing");
  }
  return y.detach();
}

void Model::convert(const Numerics& numerics, const at::Tensor& sample) {
  auto& m = impl_->module;
  if (numerics.dtype == impl_->numerics.dtype && numerics.format == impl_->numerics.format) return;
  impl_->numerics = numerics;  // also when it fails: the module may be half converted
  if (numerics.dtype != at::kFloat && !impl_->float32) impl_->float32 = m.clone();
  if (numerics.dtype == at::kFloat) impl_->float32.reset();
  try {
    m.to(numerics.dtype);
    for (auto p : m.parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(numerics.format));
    // A forward and a backward on one reference, as the field loop makes them.
    const at::Tensor x =
        sample.to(impl_->device, numerics.dtype).contiguous(numerics.format).detach().requires_grad_(true);
    const at::Tensor y = m.forward({x}).toTensor();
    torch::autograd::grad({y.to(at::kFloat).sum()}, {x})[0].sum().item<double>();
  } catch (const std::exception& e) {
    const std::string how = numerics.format == at::MemoryFormat::ChannelsLast
                                ? precision_name(numerics.dtype) + " with channels-last inputs"
                                : precision_name(numerics.dtype);
    throw_input("model '" + name_ + "' cannot run in " + how + ": " + error_line(e.what()));
  }
}

std::string model_file_hash(const ZooEntry& entry) {
  require_file(entry.path, "model '" + entry.name + "'");
  return hash_file(entry.path);
}

void keep_float32_exact() {
  at::Context& ctx = at::globalContext();
  // TF32 (10-bit mantissas: fields off by about 1e-3 relative) in cuDNN's
  // convolutions and cuBLAS's matmuls, which LibTorch allows by default on
  // Ampere and later GPUs: off, float32 stays float32.
  ctx.setAllowTF32CuDNN(false);
  ctx.setAllowTF32CuBLAS(false);
  ctx.setFloat32MatmulPrecision("highest");
  // The engine computes input gradients only, whose cuDNN algorithms are the
  // deterministic ones in the main: deterministic mode costs little and keeps
  // a field bitwise the same on every rank and in every resumed start;
  // benchmark mode would let each process pick its own algorithm per shape.
  ctx.setBenchmarkCuDNN(false);
  ctx.setDeterministicCuDNN(true);
}

c10::Device resolve_device(const DeviceSpec& spec, int local_rank) {
  if (spec.kind == DeviceSpec::Kind::Cpu) return c10::Device(c10::kCPU);
  return resolve_device(spec, local_rank,
                        torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0);
}

c10::Device resolve_device(const DeviceSpec& spec, int local_rank, int gpus) {
  switch (spec.kind) {
    case DeviceSpec::Kind::Cpu:
      return c10::Device(c10::kCPU);
    case DeviceSpec::Kind::Auto:
      if (gpus <= 0) return c10::Device(c10::kCPU);
      return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
    case DeviceSpec::Kind::Cuda:
      break;
  }
  if (gpus <= 0)
    throw_usage("config key 'run.device': " + spec.str() + " requested but this LibTorch has no usable CUDA device");
  const int index = std::max(0, spec.index);  // cuda: the default device (SLURM's --gpus-per-task shows one)
  if (index >= gpus)
    throw_usage("config key 'run.device': " + spec.str() + " but only " + std::to_string(gpus) +
                " CUDA devices are visible");
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

int set_threads(int64_t threads, int ranks_on_node) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int n = threads > 0 ? static_cast<int>(threads) : std::max(1, cores / std::max(1, ranks_on_node));
  at::set_num_threads(n);
  return n;
}

}  // namespace modelgif
