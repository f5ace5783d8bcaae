// Models of the zoo: TorchScript archives loaded once, frozen (parameters do not
// require grad, so backward computes input gradients only) and put in eval mode.
#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "modelgif/config.hpp"
#include "modelgif/field.hpp"

namespace modelgif {

class Model {
 public:
  // Throws InputError naming the file when it is missing or not TorchScript.
  Model(const ZooEntry& entry, c10::Device device);
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  ModelFn fn() const;
  // A trial forward pass on `sample` (1 x C x H x W, a reference): returns
  // the output (detached). Throws InputError naming the model when the
  // references are not accepted (a declared `input_shape` attribute that
  // differs, or a failing forward pass) or the output cannot give a field:
  // not one tensor, an integer tensor, not one row per input, no values, or
  // detached from the input.
  at::Tensor probe(const at::Tensor& sample) const;
  // Puts the model's parameters and buffers in `numerics`' precision and its
  // convolution weights in its memory format, then checks that it still runs
  // on `sample` (1 x C x H x W): InputError naming the model otherwise ("cannot
  // run in bfloat16: ...").
  void convert(const Numerics& numerics, const at::Tensor& sample);
  // The model in float32 (its loaded parameters: a copy is kept when it is
  // converted to another precision), for fixing targets at the references.
  ModelFn float32_fn() const;

 private:
  struct Impl;
  std::string name_, path_;
  std::unique_ptr<Impl> impl_;
};

// The model's identity: hex64 of its file (checkpoints key shards and pair
// sums by name@hash). Throws InputError naming the model when the file is missing.
std::string model_file_hash(const ZooEntry& entry);

// auto -> cuda:(local_rank mod GPUs) when CUDA is available, else cpu; cuda
// -> cuda:0 (the default device); cuda:N -> cuda:N.
c10::Device resolve_device(const DeviceSpec& spec, int local_rank = 0);
// The same with the node's GPU count given (0: no usable CUDA), for tests.
c10::Device resolve_device(const DeviceSpec& spec, int local_rank, int gpus);

// float32 means float32 on CUDA: no TF32 in cuDNN or cuBLAS, deterministic
// cuDNN algorithms, no benchmark mode. Process-wide; a no-op on the CPU.
void keep_float32_exact();
// Sets LibTorch's intra-op threads: `threads`, or when 0 the node's cores
// divided among the `ranks_on_node` ranks that share them (at least 1);
// returns the count used.
int set_threads(int64_t threads, int ranks_on_node = 1);

}  // namespace modelgif
