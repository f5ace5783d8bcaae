// modelgif-bench: field throughput on a Fashion-MNIST-sized CNN, next to the
// machine's own measured matmul and convolution rates.
#include <ATen/ATen.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iomanip>

#include "cli/commands.hpp"
#include "modelgif/cli.hpp"
#include "modelgif/error.hpp"
#include "modelgif/field.hpp"
#include "modelgif/model.hpp"
#include "testbeds/train.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {
namespace {

double seconds_of(const std::function<void()>& fn, int repeat) {
  fn();  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < repeat; ++i) fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeat;
}

// Forward FLOPs (multiply-add = 2) of cnn_a on one 1x28x28 image.
double cnn_a_forward_flops() {
  const double conv1 = 2.0 * 1 * 9 * 16 * 28 * 28;
  const double conv2 = 2.0 * 16 * 9 * 32 * 14 * 14;
  const double fc1 = 2.0 * 32 * 7 * 7 * 64, fc2 = 2.0 * 64 * 10;
  return conv1 + conv2 + fc1 + fc2;
}

}  // namespace

int bench(const Args& args, std::ostream& out, std::ostream& err) {
  try {
    po::options_description desc("options of modelgif-bench");
    desc.add_options()("help,h", "this help")("threads", po::value<int>()->default_value(0), "threads (0 = all cores)")(
        "refs", po::value<int>()->default_value(32), "references")("steps", po::value<int>()->default_value(50),
                                                                   "quadrature steps")(
        "max-points", po::value<int>()->default_value(0), "micro-batch bound (0 = tuned)")(
        "repeat", po::value<int>()->default_value(3), "timed repetitions");
    po::variables_map vm;
    if (!parse_command(
            args, desc, nullptr,
            "usage: modelgif-bench [options]\n\nReports field throughput (points/s) and achieved GFLOP/s of a\n"
            "Fashion-MNIST-sized CNN (cnn_a), and this machine's measured matmul and\n"
            "convolution rates, so the ratio to the machine's limit is visible.",
            out, vm))
      return kExitOk;
    for (const char* key : {"refs", "steps", "repeat"})
      if (vm[key].as<int>() < 1) throw_usage(std::string("--") + key + " must be >= 1");
    for (const char* key : {"threads", "max-points"})
      if (vm[key].as<int>() < 0) throw_usage(std::string("--") + key + " must be >= 0 (0 = chosen for you)");
    const int threads = set_threads(vm["threads"].as<int>());
    const int repeat = std::max(1, vm["repeat"].as<int>());
    const int64_t n = vm["refs"].as<int>();
    FieldSpec spec;
    spec.steps = vm["steps"].as<int>();
    auto model = make_classifier("cnn_a", 10, 0);
    for (auto p : model.parameters()) p.requires_grad_(false);
    model.eval();
    const ModelFn fn = [&model](const at::Tensor& x) { return model.forward({x}).toTensor(); };
    at::manual_seed(0);
    const auto x = at::rand({n, 1, 28, 28});
    int64_t max_points = vm["max-points"].as<int>();
    if (max_points <= 0) max_points = tune_max_points(fn, x.slice(0, 0, 1), c10::Device(c10::kCPU), 1024);
    const FieldEngine engine(spec, max_points, c10::Device(c10::kCPU));
    const auto b = at::zeros_like(x);
    const double t_field = seconds_of([&] { engine.compute(fn, "cnn_a", x, b, at::Tensor()); }, repeat);
    const double points = static_cast<double>(n * spec.steps);
    // Backward to the input costs about one more forward (no weight gradients).
    const double field_gflops = points * 2.0 * cnn_a_forward_flops() / t_field / 1e9;

    const auto a = at::rand({1024, 1024}), c = at::rand({1024, 1024});
    const double t_mm = seconds_of([&] { at::mm(a, c); }, repeat * 3);
    const double mm_gflops = 2.0 * 1024 * 1024 * 1024 / t_mm / 1e9;
    const auto cx = at::rand({256, 16, 14, 14}), cw = at::rand({32, 16, 3, 3});
    const double t_conv = seconds_of([&] { at::conv2d(cx, cw, {}, 1, 1); }, repeat * 3);
    const double conv_gflops = 2.0 * 256 * 16 * 9 * 32 * 14 * 14 / t_conv / 1e9;

    out << std::fixed << std::setprecision(1);
    out << "modelgif-bench: cnn_a (1x28x28 -> 10), " << n << " references x " << spec.steps << " steps, " << threads
        << " threads, max_points " << max_points << "\n";
    out << "  field throughput      " << std::setw(10) << points / t_field << " points/s\n";
    out << "  field compute         " << std::setw(10) << field_gflops << " GFLOP/s  ("
        << 2.0 * cnn_a_forward_flops() / 1e6 << " MFLOP per point)\n";
    out << "  machine matmul 1024^3 " << std::setw(10) << mm_gflops << " GFLOP/s\n";
    out << "  machine conv 16->32   " << std::setw(10) << conv_gflops << " GFLOP/s  (3x3, 14x14, batch 256)\n";
    out << "  field / conv rate     " << std::setw(10) << 100.0 * field_gflops / conv_gflops << " %\n";
    return kExitOk;
  } catch (const po::error& e) {
    err << "modelgif-bench: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (...) {
    return report_failure(std::current_exception(), "modelgif-bench", err);
  }
}

}  // namespace modelgif::cli
