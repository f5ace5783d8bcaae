#include "testbeds/demo.hpp"

#include <torch/script.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "demo_config.inc"  // generated from configs/demo.yaml: kDemoConfigText
#include "modelgif/error.hpp"
#include "run/result_file.hpp"
#include "modelgif/pipeline.hpp"
#include "testbeds/train.hpp"
#include "modelgif/model.hpp"

namespace fs = std::filesystem;

namespace modelgif {

const char* const kDemoSource = "source";
const char* const kDemoDerived[3] = {"finetune-1", "finetune-2", "pruned-50"};
const char* const kDemoIndependent[3] = {"indep-a1", "indep-a2", "indep-b1"};

namespace {

// Bump when the recipe below changes: the cache is keyed by it.
const char* const kRecipe = "demo-zoo recipe 1: cnn_a/cnn_b, Adam, normalized (x-0.2860)/0.3530";
constexpr double kMean = 0.2860, kStd = 0.3530;

void save_atomic(torch::jit::Module& m, const fs::path& path) {
  const fs::path tmp = path.string() + ".tmp";
  m.save(tmp.string());
  fs::rename(tmp, path);
}

torch::jit::Module clone_of(const fs::path& path) { return torch::jit::load(path.string()); }

}  // namespace

const char* demo_config_text() { return kDemoConfigText; }

bool ensure_demo_zoo(const std::string& dir, const std::string& data, std::ostream& log) {
  const fs::path zoo(dir);
  const fs::path stamp = zoo / "RECIPE";
  bool cached = fs::exists(stamp);
  if (cached) {
    std::ifstream in(stamp);
    std::string line;
    std::getline(in, line);
    cached = line == kRecipe;
    for (const char* n : {kDemoSource, kDemoDerived[0], kDemoDerived[1], kDemoDerived[2], kDemoIndependent[0],
                          kDemoIndependent[1], kDemoIndependent[2]})
      cached = cached && fs::exists(zoo / (std::string(n) + ".pt"));
  }
  if (cached) {
    log << "demo zoo: cached in " << zoo.string() << "\n";
    return false;
  }
  std::error_code ec;
  fs::create_directories(zoo, ec);
  if (ec) throw_input("demo zoo: cannot create folder " + zoo.string() + ": " + ec.message());
  fs::remove(stamp, ec);

  at::Tensor x, y, tx, ty;
  if (!fs::exists(data + "/train-images-idx3-ubyte.gz"))
    throw_input("demo zoo: no Fashion-MNIST in " + data + " (apt-get install dataset-fashion-mnist)");
  load_fashion(data, true, x, y);
  load_fashion(data, false, tx, ty);
  x = (x - kMean) / kStd;
  tx = (tx - kMean) / kStd;
  const auto part = [&](int64_t lo, int64_t hi) { return std::make_pair(x.slice(0, lo, hi), y.slice(0, lo, hi)); };
  const auto t0 = std::chrono::steady_clock::now();
  auto report = [&](const std::string& name, torch::jit::Module& m, const std::string& how) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    log << "demo zoo: " << std::left << std::setw(11) << name << std::right << " test accuracy " << std::fixed
        << std::setprecision(4) << accuracy(m, tx, ty) << "  (" << how << ") at " << std::setprecision(0) << secs
        << " s\n";
    save_atomic(m, zoo / (name + ".pt"));
  };
  log << "demo zoo: training 7 Fashion-MNIST models into " << zoo.string() << " (once; cached)\n";

  // Source: cnn_a on the first half of the training set.
  auto [xa, ya] = part(0, 30000);
  auto source = make_classifier("cnn_a", 10, 1);
  train_classifier(source, xa, ya, {2, 1e-3, 128, 11, false});
  report(kDemoSource, source, "cnn_a, seed 1, train[0:30000], 2 epochs");

  // Derived: fine-tuned on other data, and magnitude-pruned then fine-tuned.
  auto [xb, yb] = part(30000, 45000);
  auto ft1 = clone_of(zoo / "source.pt");
  train_classifier(ft1, xb, yb, {1, 3e-4, 128, 12, false});
  report(kDemoDerived[0], ft1, "source fine-tuned on train[30000:45000]");
  auto [xc, yc] = part(45000, 60000);
  auto ft2 = clone_of(zoo / "source.pt");
  train_classifier(ft2, xc, yc, {1, 3e-4, 128, 13, true});
  report(kDemoDerived[1], ft2, "source fine-tuned on train[45000:60000] with flips");
  auto pruned = clone_of(zoo / "source.pt");
  const auto masks = prune_magnitude(pruned, 0.5);
  auto [xd, yd] = part(30000, 40000);
  train_classifier(pruned, xd, yd, {1, 3e-4, 128, 14, false}, masks);
  report(kDemoDerived[2], pruned, "source, 50% weights pruned, fine-tuned on train[30000:40000]");

  // Independent: other seeds, other data, another architecture.
  auto [xe, ye] = part(30000, 60000);
  auto a1 = make_classifier("cnn_a", 10, 2);
  train_classifier(a1, xe, ye, {2, 1e-3, 128, 21, false});
  report(kDemoIndependent[0], a1, "cnn_a, seed 2, train[30000:60000], 2 epochs");
  auto a2 = make_classifier("cnn_a", 10, 3);
  train_classifier(a2, xa, ya, {2, 1e-3, 128, 31, false});
  report(kDemoIndependent[1], a2, "cnn_a, seed 3, train[0:30000], 2 epochs");
  auto b1 = make_classifier("cnn_b", 10, 4);
  train_classifier(b1, x, y, {1, 1e-3, 128, 41, false});
  report(kDemoIndependent[2], b1, "cnn_b, seed 4, train[0:60000], 1 epoch");

  std::ofstream(stamp) << kRecipe << "\n";
  return true;
}

int run_demo(const std::string& dir, const std::string& data, int threads, std::ostream& out) {
  set_threads(threads);
  const std::string zoo_dir = dir + "/zoo";
  ensure_demo_zoo(zoo_dir, data, out);

  std::vector<std::string> zoo = {std::string(kDemoSource) + "=" + zoo_dir + "/" + kDemoSource + ".pt"};
  for (const char* n : kDemoDerived) zoo.push_back(std::string(n) + "=" + zoo_dir + "/" + n + ".pt");
  for (const char* n : kDemoIndependent) zoo.push_back(std::string(n) + "=" + zoo_dir + "/" + n + ".pt");
  const RunConfig cfg = load_config(demo_config_text(), "configs/demo.yaml",
                                    {{"references.source", data + "/t10k-images-idx3-ubyte.gz"},
                                     {"output.path", dir + "/demo.h5"},
                                     {"run.threads", std::to_string(threads)}},
                                    zoo);
  RunOptions opt;
  opt.recompute = true;  // the demo owns its folder: a retrained zoo replaces the old shards
  const RunSummary s = run_pipeline(cfg, out, opt);

  int status = kExitOk;
  for (size_t k = 0; k < s.metrics.size(); ++k) {
    const auto& m = s.matrices[k];
    const size_t M = s.names.size();
    out << "\n" << to_string(s.metrics[k]) << " distance:\n" << format_matrix(s.names, m);
    // Source is row 0; derived rows 1..3; independent rows 4..6.
    double worst_derived = 0, best_indep = 1e300;
    for (size_t j = 1; j <= 3; ++j) worst_derived = std::max(worst_derived, m[j]);
    for (size_t j = 4; j < M; ++j) best_indep = std::min(best_indep, m[j]);
    const bool ok = worst_derived < best_indep;
    out << "check (" << to_string(s.metrics[k]) << "): farthest derived model " << std::setprecision(4) << worst_derived
        << (ok ? " < " : " >= ") << "nearest independent model " << best_indep << ": " << (ok ? "PASS" : "FAIL")
        << "\n";
    if (!ok) status = kExitCheckFailed;
  }
  return status;
}

}  // namespace modelgif
