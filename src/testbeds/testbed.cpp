#include "testbeds/testbed.hpp"

#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "base/hash.hpp"
#include "inputs/strict_yaml.hpp"
#include "modelgif/comm.hpp"
#include "base/files.hpp"
#include "modelgif/error.hpp"
#include "analysis/svg.hpp"
#include "testbeds/train.hpp"
#include "testbeds/zoo_cache.hpp"

namespace fs = std::filesystem;

namespace modelgif {

std::string seconds_since(std::chrono::steady_clock::time_point t0) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(0) << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
    << " s";
  return s.str();
}

void require_fashion(const std::string& folder) {
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                        "t10k-labels-idx1-ubyte.gz"})
    if (!fs::exists(folder + "/" + f))  // every rank sees the same folder: rank 0 reports
      throw_shared(InputError("zoo: no Fashion-MNIST in " + folder + " (missing " + f +
                              "; apt-get install dataset-fashion-mnist)"));
}

fs::path prepare_zoo_dir(const TestbedConfig& cfg, const comm::Comm& world, std::ostream& out) {
  // Bump a testbed's recipe version when its recipes change: its cached zoos
  // are keyed by it and the config.
  const std::string recipes = cfg.testbed == "relatedness" ? "relatedness recipes 2"
                                                           : "fingerprinting recipes 1, unlearning recipes 1";
  const fs::path dir(cfg.dir), models = dir / "models";
  const std::string stamp = hex64(fnv1a(cfg.text)) + " " + recipes;
  // The cache: models made from this config and these recipes are reused;
  // otherwise the models and everything made from them go.
  if (world.rank() == 0) {
    std::string old;
    std::ifstream s(dir / "RECIPE");
    std::getline(s, old);
    if (old != stamp && fs::exists(models)) {
      out << "zoo: config or recipes changed: retraining\n";
      fs::remove_all(models);
      for (const char* f : {"run.yaml", "roles.yaml", "affinity.svg"}) fs::remove(dir / f);
    }
    fs::create_directories(models);
    write_text_atomic((dir / "RECIPE").string(), stamp + "\n");
  }
  world.barrier();
  return models;
}

void print_next_steps(const fs::path& dir, std::ostream& out) {
  out << "next: modelgif run --config " << (dir / "run.yaml").string() << "\n      modelgif eval "
      << (dir / "out.h5").string() << " --roles " << (dir / "roles.yaml").string() << "\n";
}

void write_run_config(const TestbedConfig& cfg, const std::vector<std::string>& names, const fs::path& models,
                      const std::string& field, bool store_fields) {
  const fs::path dir(cfg.dir);
  std::ostringstream run;
  run << "# written by modelgif zoo: the " << cfg.testbed << " testbed\nzoo:\n";
  for (const auto& n : names) run << "  - {name: " << n << ", path: " << (models / (n + ".pt")).string() << "}\n";
  run << "references:\n  source: " << cfg.data << "/t10k-images-idx3-ubyte.gz\n  count: " << cfg.references
      << "\n  select: random\n  seed: 0\n  mean: [" << kFashionMean << "]\n  std: [" << kFashionStd << "]\n"
      << "field: {steps: " << cfg.steps << ", " << field << ", baseline: zeros}\n"
      << "distance: {metrics: [cosine, euclidean]}\n"
      << "output: {path: " << (dir / "out.h5").string() << ", store_fields: " << (store_fields ? "true" : "false")
      << "}\n";
  write_text_atomic((dir / "run.yaml").string(), run.str());
}

namespace {

const char* const kKinds[] = {"finetune", "prune", "distill", "extract", "adversarial", "transfer", "negatives"};
const char* const kUnlearningKinds[] = {"approximate", "direct", "unrelated"};

struct Data {
  at::Tensor x, y, tx, ty;  // normalized train / test
};

Data load_data(const std::string& folder) {
  Data d;
  load_fashion(folder, true, d.x, d.y);
  load_fashion(folder, false, d.tx, d.ty);
  d.x = (d.x - kFashionMean) / kFashionStd, d.tx = (d.tx - kFashionMean) / kFashionStd;
  return d;
}

// Images [lo, lo + n) of the training set, n scaled.
std::pair<at::Tensor, at::Tensor> part(const Data& d, int64_t lo, int64_t n, double scale) {
  const int64_t m = std::max<int64_t>(256, static_cast<int64_t>(static_cast<double>(n) * scale));
  return {d.x.slice(0, lo, lo + m), d.y.slice(0, lo, lo + m)};
}

// One model of the zoo: its name, its kind and how to make it.
struct Recipe {
  std::string name, kind;
  int index;
  int64_t forget = 0;  // unlearning: the class to forget
};

void train_one(const Recipe& r, const Data& d, double scale, const fs::path& dir, std::string& how) {
  const auto load_source = [&] { return torch::jit::load((dir / "source.pt").string()); };
  const uint64_t seed = 1000 + static_cast<uint64_t>(r.index) * 17;
  torch::jit::Module m;
  if (r.kind == "source") {
    m = make_classifier("cnn_a", 10, 1);
    auto [x, y] = part(d, 0, 30000, scale);
    train_classifier(m, x, y, {2, 1e-3, 128, 11, false});
    how = "cnn_a trained on train[0:30000]";
  } else if (r.kind == "finetune") {  // fine-tuned on other data
    m = load_source();
    auto [x, y] = part(d, 30000 + (r.index % 3) * 10000, 10000, scale);
    train_classifier(m, x, y, {1, 3e-4 * (1 + r.index % 3), 128, seed, r.index % 2 == 1});
    how = "source fine-tuned on 10k other images";
  } else if (r.kind == "prune") {  // pruned at several ratios, then fine-tuned
    m = load_source();
    const double ratio = 0.3 + 0.1 * (r.index % 6);
    const auto masks = prune_magnitude(m, ratio);
    auto [x, y] = part(d, 30000 + (r.index % 3) * 10000, 10000, scale);
    train_classifier(m, x, y, {1, 3e-4, 128, seed, false}, masks);
    how = "source pruned " + std::to_string(static_cast<int>(ratio * 100)) + "% and fine-tuned";
  } else if (r.kind == "distill" || r.kind == "extract") {
    // Students of other architectures: soft labels (distill, T = 4) or the source's hard predictions (extract).
    auto teacher = load_source();
    teacher.eval();
    const std::string arch = r.index % 2 == 0 ? "cnn_b" : "cnn_a";
    m = make_classifier(arch, 10, seed);
    auto [x, y] = part(d, 30000, 30000, scale);
    at::Tensor soft;
    {
      torch::NoGradGuard ng;
      soft = teacher.forward({x}).toTensor();
    }
    if (r.kind == "extract") {
      train_classifier(m, x, soft.argmax(1), {2, 1e-3, 128, seed, false});
      how = arch + " trained on the source's predicted labels (label-only extraction)";
    } else {
      const double T = 4.0;
      const at::Tensor p = torch::softmax(soft / T, 1);
      train_loop(m, x.size(0), {2, 1e-3, 128, seed, false}, {}, [&](const at::Tensor& idx, const at::Tensor&) {
        const auto logp = torch::log_softmax(m.forward({x.index_select(0, idx)}).toTensor() / T, 1);
        const auto pt = p.index_select(0, idx);
        return (pt * (pt.clamp_min(1e-12).log() - logp)).sum(1).mean() * (T * T);
      });
      how = arch + " distilled from the source (soft labels, T = 4)";
    }
  } else if (r.kind == "adversarial") {  // FGSM adversarial fine-tuning
    m = load_source();
    auto [x, y] = part(d, 30000 + (r.index % 3) * 10000, 10000, scale);
    const double eps = 0.05 + 0.05 * (r.index % 3);
    train_loop(m, x.size(0), {1, 3e-4, 128, seed, false}, {}, [&](const at::Tensor& idx, const at::Tensor&) {
      const auto xb = x.index_select(0, idx), yb = y.index_select(0, idx);
      auto xg = xb.clone().requires_grad_(true);
      const auto g = torch::autograd::grad({torch::cross_entropy_loss(m.forward({xg}).toTensor(), yb)}, {xg})[0];
      const auto xa = (xb + eps / kFashionStd * g.sign()).detach();
      return torch::cross_entropy_loss(m.forward({xb}).toTensor(), yb) +
             torch::cross_entropy_loss(m.forward({xa}).toTensor(), yb);
    });
    how = "source adversarially fine-tuned (FGSM)";
  } else if (r.kind == "transfer") {  // to another label set: 5 groups of the 10 classes, new head
    m = load_source();
    torch::manual_seed(seed);
    m.setattr("f2w", (torch::randn({5, 64}) * std::sqrt(2.0 / 64)));
    m.setattr("f2b", torch::zeros({5}));
    auto [x, y] = part(d, 30000 + (r.index % 3) * 10000, 10000, scale);
    train_classifier(m, x, y.remainder(5), {1, 1e-3, 128, seed, false});
    how = "source transferred to a 5-class label set (new head, fine-tuned)";
  } else if (r.kind == "negatives") {  // independent models: other seeds, architectures, data
    const std::string arch = r.index % 2 == 0 ? "cnn_a" : "cnn_b";
    m = make_classifier(arch, 10, seed);
    auto [x, y] = part(d, (r.index % 2) * 30000, 30000, scale);
    train_classifier(m, x, y, {2, 1e-3, 128, seed, false});
    how = arch + " trained independently";
  } else if (r.kind == "reference") {  // unlearning: the model to forget with
    m = make_classifier("cnn_a", 10, 1);
    auto [x, y] = part(d, 0, 60000, scale);
    train_classifier(m, x, y, {2, 1e-3, 128, 11, false});
    how = "cnn_a trained on all of train";
  } else if (r.kind == "direct") {  // retrained from scratch without the forgotten class
    m = make_classifier("cnn_a", 10, seed);
    auto [x, y] = part(d, 0, 60000, scale);
    const auto keep = y.ne(r.forget).nonzero().view(-1);
    train_classifier(m, x.index_select(0, keep), y.index_select(0, keep), {2, 1e-3, 128, seed, false});
    how = "cnn_a retrained without class " + std::to_string(r.forget);
  } else if (r.kind == "approximate") {  // the reference fine-tuned to forget: random labels on the forgotten class
    m = torch::jit::load((dir / "reference.pt").string());
    auto [x, y] = part(d, 0, 60000, scale);
    torch::manual_seed(seed);
    const auto forget = y.eq(r.forget);
    const auto other = (torch::randint(1, 10, y.sizes(), torch::kLong) + r.forget).remainder(10);  // never the true class
    const auto relabeled = torch::where(forget, other, y);
    const auto sub = torch::randperm(x.size(0)).slice(0, 0, std::max<int64_t>(1000, x.size(0) / 3));
    train_classifier(m, x.index_select(0, sub), relabeled.index_select(0, sub), {1, 3e-4, 128, seed, false});
    how = "reference fine-tuned with random labels on class " + std::to_string(r.forget);
  } else if (r.kind == "unrelated") {  // other seeds, all the data
    m = make_classifier("cnn_a", 10, seed);
    auto [x, y] = part(d, 0, 60000, scale);
    train_classifier(m, x, y, {2, 1e-3, 128, seed + 1, false});
    how = "cnn_a trained on all of train, another seed";
  } else {
    throw_internal("zoo: unknown recipe kind " + r.kind);
  }
  const fs::path tmp = dir / (r.name + ".pt.tmp");
  m.save(tmp.string());
  fs::rename(tmp, dir / (r.name + ".pt"));
}

}  // namespace

TestbedConfig load_testbed(const std::string& path) {
  TestbedConfig c;
  c.text = read_text_file(path, "zoo config");
  const yaml::Document doc = yaml::Document::parse(c.text, "zoo config", path);
  const YAML::Node& root = doc.root();
  doc.expect_map(root, "", {"testbed", "dir", "data", "counts", "scale", "references", "steps", "forget_class",
                            "tasks", "shared_init"});
  c.testbed = doc.string(root["testbed"], "testbed");
  c.dir = doc.string(root["dir"], "dir");
  if (root["data"]) c.data = doc.string(root["data"], "data");
  if (root["scale"]) c.scale = doc.number(root["scale"], "scale");
  if (root["references"]) c.references = static_cast<int>(doc.integer(root["references"], "references"));
  if (root["steps"]) c.steps = static_cast<int>(doc.integer(root["steps"], "steps"));
  if (root["forget_class"]) c.forget_class = static_cast<int>(doc.integer(root["forget_class"], "forget_class"));
  if (root["shared_init"]) c.shared_init = doc.boolean(root["shared_init"], "shared_init");
  if (root["tasks"]) {
    const auto all = relatedness_tasks();
    const auto tasks = doc.strings(root["tasks"], "tasks");
    if (tasks.empty()) doc.fail("'tasks' is empty (leave it out for all tasks)");
    for (const auto& t : tasks) {
      if (std::find(all.begin(), all.end(), t) == all.end()) doc.fail("unknown task '" + t + "' in 'tasks'");
      if (std::find(c.tasks.begin(), c.tasks.end(), t) != c.tasks.end()) doc.fail("duplicate task '" + t + "' in 'tasks'");
      c.tasks.push_back(t);
    }
  }
  if (const YAML::Node counts = root["counts"]) {
    std::vector<std::string> kinds(std::begin(kKinds), std::end(kKinds));
    kinds.insert(kinds.end(), std::begin(kUnlearningKinds), std::end(kUnlearningKinds));
    doc.expect_map(counts, "counts", kinds);
    for (const auto& e : counts) c.counts[e.first.Scalar()] = static_cast<int>(doc.integer(e.second, "counts." + e.first.Scalar()));
  }
  if (c.testbed != "fingerprinting" && c.testbed != "unlearning" && c.testbed != "relatedness")
    doc.fail("testbed must be fingerprinting, unlearning or relatedness");
  if (c.testbed == "relatedness") {
    if (!c.counts.empty()) doc.fail("'counts' is not used by the relatedness testbed (use 'tasks')");
    if (c.tasks.empty()) c.tasks = relatedness_tasks();
    if (c.tasks.size() < 3) doc.fail("'tasks' needs at least 3 tasks");
  } else {
    for (const char* key : {"tasks", "shared_init"})
      if (root[key]) doc.fail("'" + std::string(key) + "' is only for the relatedness testbed");
  }
  if (c.testbed != "unlearning" && root["forget_class"])
    doc.fail("'forget_class' is only for the unlearning testbed");
  if (c.dir.empty()) doc.fail("'dir' is required");
  if (!(c.scale > 0 && c.scale <= 1)) doc.fail("'scale' must be in (0, 1]");
  if (c.testbed == "fingerprinting" && c.counts["negatives"] < 2)
    doc.fail("counts.negatives must be >= 2");
  if (c.testbed == "unlearning" && (c.counts["direct"] < 1 || c.counts["approximate"] < 1 || c.counts["unrelated"] < 1))
    doc.fail("counts.direct, counts.approximate and counts.unrelated must be >= 1");
  if (c.forget_class < 0 || c.forget_class > 9) doc.fail("forget_class must be 0..9");
  return c;
}

int run_zoo(const TestbedConfig& cfg, std::ostream& out) {
  const auto world = comm::Comm::world();
  const int rank = world.rank(), ranks = world.size();
  require_fashion(cfg.data);
  const fs::path dir(cfg.dir), models = prepare_zoo_dir(cfg, world, out);
  if (cfg.testbed == "relatedness") return run_relatedness_zoo(cfg, models, out);
  const bool unlearn = cfg.testbed == "unlearning";
  const std::string base = unlearn ? "reference" : "source";
  std::vector<Recipe> recipes;
  for (const char* kind : kKinds) {
    const auto it = cfg.counts.find(kind);
    const int n = it == cfg.counts.end() || unlearn ? 0 : it->second;
    for (int i = 0; i < n; ++i) recipes.push_back({std::string(kind) + "-" + std::to_string(i + 1), kind, i});
  }
  for (const char* kind : kUnlearningKinds) {
    const auto it = cfg.counts.find(kind);
    const int n = it == cfg.counts.end() || !unlearn ? 0 : it->second;
    for (int i = 0; i < n; ++i)
      recipes.push_back({std::string(kind) + "-" + std::to_string(i + 1), kind, i, cfg.forget_class});
  }
  const Data data = load_data(cfg.data);
  const auto t0 = std::chrono::steady_clock::now();
  auto report = [&](const std::string& name, const std::string& how) {
    auto m = torch::jit::load((models / (name + ".pt")).string());
    std::ostringstream line;
    line << "zoo: " << std::left << std::setw(14) << name << std::right << " test accuracy " << std::fixed
         << std::setprecision(3) << (name.rfind("transfer", 0) == 0 ? accuracy(m, data.tx, data.ty.remainder(5))
                                                                      : accuracy(m, data.tx, data.ty))
         << "  " << how << " (rank " << rank << ", " << seconds_since(t0) << ")";
    return line.str();
  };
  if (rank == 0 && !fs::exists(models / (base + ".pt"))) {
    std::string how;
    train_one({base, base, 0}, data, cfg.scale, models, how);
    out << report(base, how) << std::endl;
  }
  world.barrier();
  for (size_t i = static_cast<size_t>(rank); i < recipes.size(); i += static_cast<size_t>(ranks)) {
    if (fs::exists(models / (recipes[i].name + ".pt"))) continue;
    std::string how;
    train_one(recipes[i], data, cfg.scale, models, how);
    out << report(recipes[i].name, how) << std::endl;
  }
  world.barrier();
  if (rank != 0) return 0;
  out << "zoo: " << recipes.size() + 1 << " models in " << models.string() << "\n";

  // The run config and the roles for `modelgif eval`.
  std::vector<std::string> names{base};
  for (const auto& r : recipes) names.push_back(r.name);
  write_run_config(cfg, names, models, std::string("target: ") + (unlearn ? "label" : "predicted"), true);
  auto list = [&](const std::string& kind) {
    std::string s = "[";
    for (const auto& r : recipes)
      if (r.kind == kind) s += (s.size() > 1 ? ", " : "") + r.name;
    return s + "]";
  };
  std::ostringstream roles;
  if (unlearn) {
    roles << "unlearning:\n  reference: reference\n  approximate: " << list("approximate") << "\n  direct: "
          << list("direct") << "\n  unrelated: " << list("unrelated") << "\n";
  } else {
    roles << "fingerprinting:\n  source: source\n  positives:\n";
    for (const char* kind : kKinds)
      if (std::string(kind) != "negatives" && cfg.counts.count(kind) && cfg.counts.at(kind) > 0)
        roles << "    " << kind << ": " << list(kind) << "\n";
    roles << "  negatives: " << list("negatives") << "\n";
  }
  write_text_atomic((dir / "roles.yaml").string(), roles.str());
  print_next_steps(dir, out);
  return 0;
}

}  // namespace modelgif
