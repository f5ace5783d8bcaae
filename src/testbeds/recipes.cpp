#include "testbeds/recipes.hpp"

#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <cmath>
#include <functional>
#include <map>

#include "inputs/fashion.hpp"
#include "modelgif/error.hpp"

namespace modelgif {
namespace {

// Images [lo, lo + count) of the training set, count scaled (at least 256).
std::pair<at::Tensor, at::Tensor> part(const TrainingData& d, int64_t lo, int64_t count) {
  const int64_t m = std::max<int64_t>(256, static_cast<int64_t>(static_cast<double>(count) * d.scale));
  return {d.x.slice(0, lo, lo + m), d.y.slice(0, lo, lo + m)};
}

torch::jit::Module load_base(const Recipe& r, const ModelPath& path) { return torch::jit::load(path(r.base)); }

torch::jit::Module train_fresh(const Recipe& r, const TrainingData& d, const ModelPath&) {
  auto m = make_classifier(r.arch, 10, r.init_seed);
  auto [x, y] = part(d, r.lo, r.count);
  if (r.drop_class >= 0) {
    const auto keep = y.ne(r.drop_class).nonzero().view(-1);
    x = x.index_select(0, keep), y = y.index_select(0, keep);
  }
  train_classifier(m, x, y, r.train);
  return m;
}

torch::jit::Module finetune(const Recipe& r, const TrainingData& d, const ModelPath& path) {
  auto m = load_base(r, path);
  const auto masks = r.prune > 0 ? prune_magnitude(m, r.prune) : std::vector<at::Tensor>{};
  auto [x, y] = part(d, r.lo, r.count);
  train_classifier(m, x, y, r.train, masks);
  return m;
}

// A student of `base`: soft labels (distill) or its predicted labels (extract).
torch::jit::Module student(const Recipe& r, const TrainingData& d, const ModelPath& path) {
  auto teacher = load_base(r, path);
  teacher.eval();
  auto m = make_classifier(r.arch, 10, r.init_seed);
  auto [x, y] = part(d, r.lo, r.count);
  at::Tensor soft;
  {
    torch::NoGradGuard ng;
    soft = teacher.forward({x}).toTensor();
  }
  if (r.kind == "extract") {
    train_classifier(m, x, soft.argmax(1), r.train);
    return m;
  }
  const double T = r.temperature;
  const at::Tensor p = torch::softmax(soft / T, 1);
  train_loop(m, x.size(0), r.train, {}, [&](const at::Tensor& idx, const at::Tensor&) {
    const auto logp = torch::log_softmax(m.forward({x.index_select(0, idx)}).toTensor() / T, 1);
    const auto pt = p.index_select(0, idx);
    return (pt * (pt.clamp_min(1e-12).log() - logp)).sum(1).mean() * (T * T);
  });
  return m;
}

torch::jit::Module adversarial(const Recipe& r, const TrainingData& d, const ModelPath& path) {
  auto m = load_base(r, path);
  auto [x, y] = part(d, r.lo, r.count);
  const double eps = r.epsilon;
  train_loop(m, x.size(0), r.train, {}, [&](const at::Tensor& idx, const at::Tensor&) {
    const auto xb = x.index_select(0, idx), yb = y.index_select(0, idx);
    auto xg = xb.clone().requires_grad_(true);
    const auto g = torch::autograd::grad({torch::cross_entropy_loss(m.forward({xg}).toTensor(), yb)}, {xg})[0];
    const auto xa = (xb + eps / kFashionStd * g.sign()).detach();
    return torch::cross_entropy_loss(m.forward({xb}).toTensor(), yb) +
           torch::cross_entropy_loss(m.forward({xa}).toTensor(), yb);
  });
  return m;
}

torch::jit::Module transfer(const Recipe& r, const TrainingData& d, const ModelPath& path) {
  auto m = load_base(r, path);
  torch::manual_seed(r.init_seed);
  m.setattr("f2w", (torch::randn({r.classes, 64}) * std::sqrt(2.0 / 64)));
  m.setattr("f2b", torch::zeros({r.classes}));
  auto [x, y] = part(d, r.lo, r.count);
  train_classifier(m, x, y.remainder(r.classes), r.train);
  return m;
}

torch::jit::Module forget(const Recipe& r, const TrainingData& d, const ModelPath& path) {
  auto m = load_base(r, path);
  auto [x, y] = part(d, r.lo, r.count);
  torch::manual_seed(r.init_seed);
  const auto forgotten = y.eq(r.drop_class);
  const auto other =
      (torch::randint(1, 10, y.sizes(), torch::kLong) + r.drop_class).remainder(10);  // never the true class
  const auto relabeled = torch::where(forgotten, other, y);
  const auto sub = torch::randperm(x.size(0)).slice(0, 0, std::max<int64_t>(1000, x.size(0) / 3));
  train_classifier(m, x.index_select(0, sub), relabeled.index_select(0, sub), r.train);
  return m;
}

using Maker = torch::jit::Module (*)(const Recipe&, const TrainingData&, const ModelPath&);

const std::map<std::string, Maker>& kinds() {
  static const std::map<std::string, Maker> table = {
      {"train", train_fresh},       {"finetune", finetune}, {"distill", student}, {"extract", student},
      {"adversarial", adversarial}, {"transfer", transfer}, {"forget", forget}};
  return table;
}

}  // namespace

TrainingData load_training_data(const std::string& folder, double scale) {
  TrainingData d;
  load_fashion(folder, true, d.x, d.y);
  load_fashion(folder, false, d.test_x, d.test_y);
  d.x = (d.x - kFashionMean) / kFashionStd, d.test_x = (d.test_x - kFashionMean) / kFashionStd;
  d.scale = scale;
  return d;
}

torch::jit::Module make_model(const Recipe& recipe, const TrainingData& data, const ModelPath& path) {
  const auto it = kinds().find(recipe.kind);
  if (it == kinds().end()) throw_internal("zoo: unknown recipe kind '" + recipe.kind + "' for " + recipe.name);
  return it->second(recipe, data, path);
}

double test_accuracy(const Recipe& recipe, torch::jit::Module& model, const TrainingData& data) {
  return accuracy(model, data.test_x, recipe.classes == 10 ? data.test_y : data.test_y.remainder(recipe.classes));
}

}  // namespace modelgif
