#include "testbeds/train.hpp"

#include <torch/optim.h>

#include <cmath>
#include <functional>

#include "modelgif/error.hpp"

namespace modelgif {
namespace {

std::vector<at::Tensor> params(torch::jit::Module& m) {
  std::vector<at::Tensor> p;
  for (auto t : m.parameters()) p.push_back(t);
  return p;
}

}  // namespace

at::Tensor he_normal(std::vector<int64_t> shape, int64_t fan_in) {
  return (torch::randn(shape) * std::sqrt(2.0 / static_cast<double>(fan_in))).requires_grad_(true);
}
at::Tensor zero_bias(int64_t n) { return torch::zeros({n}).requires_grad_(true); }

torch::jit::Module make_classifier(const std::string& arch, int64_t classes, uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module m("Classifier_" + arch);
  if (arch == "cnn_a") {
    m.register_parameter("c1w", he_normal({16, 1, 3, 3}, 9), false);
    m.register_parameter("c1b", zero_bias(16), false);
    m.register_parameter("c2w", he_normal({32, 16, 3, 3}, 144), false);
    m.register_parameter("c2b", zero_bias(32), false);
    m.register_parameter("f1w", he_normal({64, 32 * 7 * 7}, 32 * 7 * 7), false);
    m.register_parameter("f1b", zero_bias(64), false);
    m.register_parameter("f2w", he_normal({classes, 64}, 64), false);
    m.register_parameter("f2b", zero_bias(classes), false);
    m.define(R"(
def forward(self, x):
    h = torch.max_pool2d(torch.relu(torch.conv2d(x, self.c1w, self.c1b, [1, 1], [1, 1])), [2, 2])
    h = torch.max_pool2d(torch.relu(torch.conv2d(h, self.c2w, self.c2b, [1, 1], [1, 1])), [2, 2])
    h = torch.relu(torch.linear(torch.flatten(h, 1), self.f1w, self.f1b))
    return torch.linear(h, self.f2w, self.f2b)
)");
  } else if (arch == "cnn_b") {
    m.register_parameter("c1w", he_normal({8, 1, 5, 5}, 25), false);
    m.register_parameter("c1b", zero_bias(8), false);
    m.register_parameter("c2w", he_normal({24, 8, 5, 5}, 200), false);
    m.register_parameter("c2b", zero_bias(24), false);
    m.register_parameter("f1w", he_normal({classes, 24 * 7 * 7}, 24 * 7 * 7), false);
    m.register_parameter("f1b", zero_bias(classes), false);
    m.define(R"(
def forward(self, x):
    h = torch.max_pool2d(torch.relu(torch.conv2d(x, self.c1w, self.c1b, [1, 1], [2, 2])), [2, 2])
    h = torch.max_pool2d(torch.relu(torch.conv2d(h, self.c2w, self.c2b, [1, 1], [2, 2])), [2, 2])
    return torch.linear(torch.flatten(h, 1), self.f1w, self.f1b)
)");
  } else if (arch == "cnn_deep") {
    m.register_parameter("c1w", he_normal({32, 1, 3, 3}, 9), false);
    m.register_parameter("c1b", zero_bias(32), false);
    m.register_parameter("c2w", he_normal({64, 32, 3, 3}, 288), false);
    m.register_parameter("c2b", zero_bias(64), false);
    m.register_parameter("c3w", he_normal({64, 64, 3, 3}, 576), false);
    m.register_parameter("c3b", zero_bias(64), false);
    m.register_parameter("f1w", he_normal({classes, 64 * 7 * 7}, 64 * 7 * 7), false);
    m.register_parameter("f1b", zero_bias(classes), false);
    m.define(R"(
def forward(self, x):
    h = torch.max_pool2d(torch.relu(torch.conv2d(x, self.c1w, self.c1b, [1, 1], [1, 1])), [2, 2])
    h = torch.max_pool2d(torch.relu(torch.conv2d(h, self.c2w, self.c2b, [1, 1], [1, 1])), [2, 2])
    h = torch.relu(torch.conv2d(h, self.c3w, self.c3b, [1, 1], [1, 1]))
    return torch.linear(torch.flatten(h, 1), self.f1w, self.f1b)
)");
  } else if (arch == "resnet_mini") {
    // A stem, a residual block at 14x14 and a strided one to 7x7 (1x1
    // projection shortcut), every convolution followed by BatchNorm.
    const auto conv_bn = [&m](const std::string& name, int64_t in, int64_t out, int64_t k) {
      m.register_parameter(name + "w", he_normal({out, in, k, k}, in * k * k), false);
      m.register_parameter(name + "g", (1 + 0.1 * torch::randn({out})).requires_grad_(true), false);
      m.register_parameter(name + "b", (0.1 * torch::randn({out})).requires_grad_(true), false);
      m.register_buffer(name + "m", 0.1 * torch::randn({out}));
      m.register_buffer(name + "v", 0.5 + torch::rand({out}));
    };
    m.register_attribute("training", c10::BoolType::get(), true);  // BatchNorm: batch or running statistics
    conv_bn("s", 1, 32, 3);
    conv_bn("a1", 32, 32, 3), conv_bn("a2", 32, 32, 3);
    conv_bn("b1", 32, 64, 3), conv_bn("b2", 64, 64, 3), conv_bn("bp", 32, 64, 1);
    m.register_parameter("fw", he_normal({classes, 64}, 64), false);
    m.register_parameter("fb", zero_bias(classes), false);
    m.define(R"(
def cbn(self, x, w, g, b, m, v, stride: int, pad: int):
    h = torch.conv2d(x, w, None, [stride, stride], [pad, pad])
    return torch.batch_norm(h, g, b, m, v, self.training, 0.1, 1e-5, False)

def forward(self, x):
    h = torch.relu(self.cbn(x, self.sw, self.sg, self.sb, self.sm, self.sv, 1, 1))
    h = torch.max_pool2d(h, [2, 2])
    r = torch.relu(self.cbn(h, self.a1w, self.a1g, self.a1b, self.a1m, self.a1v, 1, 1))
    h = torch.relu(h + self.cbn(r, self.a2w, self.a2g, self.a2b, self.a2m, self.a2v, 1, 1))
    r = torch.relu(self.cbn(h, self.b1w, self.b1g, self.b1b, self.b1m, self.b1v, 2, 1))
    p = self.cbn(h, self.bpw, self.bpg, self.bpb, self.bpm, self.bpv, 2, 0)
    h = torch.relu(p + self.cbn(r, self.b2w, self.b2g, self.b2b, self.b2m, self.b2v, 1, 1))
    return torch.linear(torch.mean(h, [2, 3]), self.fw, self.fb)
)");
  } else {
    throw_usage("unknown architecture '" + arch + "' (expected cnn_a, cnn_b, cnn_deep or resnet_mini)");
  }
  m.register_attribute("input_shape", c10::ListType::ofInts(), c10::IValue(std::vector<int64_t>{1, 28, 28}));
  return m;
}

double train_loop(torch::jit::Module& model, int64_t n, const TrainSpec& spec, const std::vector<at::Tensor>& masks,
                  const std::function<at::Tensor(const at::Tensor& idx, const at::Tensor& flip)>& batch_loss) {
  model.train();
  auto ps = params(model);
  for (auto& p : ps) p.requires_grad_(true);
  torch::optim::Adam opt(ps, torch::optim::AdamOptions(spec.lr));
  torch::manual_seed(spec.seed);
  double last = 0.0;
  for (int epoch = 0; epoch < spec.epochs; ++epoch) {
    const auto order = torch::randperm(n, torch::kLong);
    double total = 0.0;
    int64_t batches = 0;
    for (int64_t i = 0; i < n; i += spec.batch) {
      const auto idx = order.slice(0, i, std::min(n, i + spec.batch));
      const auto flip = spec.flip ? torch::rand({idx.size(0)}) < 0.5 : at::Tensor();
      opt.zero_grad();
      auto loss = batch_loss(idx, flip);
      loss.backward();
      opt.step();
      if (!masks.empty()) {
        torch::NoGradGuard ng;
        for (size_t k = 0; k < ps.size(); ++k) ps[k].mul_(masks[k]);
      }
      total += loss.item<double>();
      ++batches;
    }
    last = total / static_cast<double>(std::max<int64_t>(batches, 1));
  }
  for (auto& p : ps) p.requires_grad_(false);
  model.eval();
  return last;
}

at::Tensor apply_flip(const at::Tensor& xb, const at::Tensor& flip) {
  return flip.defined() ? torch::where(flip.view({-1, 1, 1, 1}), xb.flip({3}), xb) : xb;
}

double train_classifier(torch::jit::Module& model, const at::Tensor& x, const at::Tensor& y, const TrainSpec& spec,
                        const std::vector<at::Tensor>& masks) {
  return train_loop(model, x.size(0), spec, masks, [&](const at::Tensor& idx, const at::Tensor& flip) {
    const auto xb = apply_flip(x.index_select(0, idx), flip);
    return torch::cross_entropy_loss(model.forward({xb}).toTensor(), y.index_select(0, idx));
  });
}

double accuracy(torch::jit::Module& model, const at::Tensor& x, const at::Tensor& y) {
  torch::NoGradGuard ng;
  model.eval();
  int64_t right = 0;
  for (int64_t i = 0; i < x.size(0); i += 1000) {
    const auto out = model.forward({x.slice(0, i, std::min(x.size(0), i + 1000))}).toTensor();
    right += out.argmax(1).eq(y.slice(0, i, std::min(x.size(0), i + 1000))).sum().item<int64_t>();
  }
  return static_cast<double>(right) / static_cast<double>(x.size(0));
}

std::vector<at::Tensor> prune_magnitude(torch::jit::Module& model, double ratio) {
  torch::NoGradGuard ng;
  std::vector<at::Tensor> masks;
  for (auto p : model.parameters()) {
    if (p.dim() < 2) {
      masks.push_back(torch::ones_like(p));
      continue;
    }
    const int64_t k = static_cast<int64_t>(ratio * static_cast<double>(p.numel()));
    auto mask = torch::ones_like(p);
    if (k > 0) {
      const auto thresh = std::get<0>(p.abs().flatten().kthvalue(k));
      mask = (p.abs() > thresh).to(p.scalar_type());
    }
    p.mul_(mask);
    masks.push_back(mask);
  }
  return masks;
}

}  // namespace modelgif
