// modelgif-bench: field throughput measured side by side in one process.
//   (a) the published loop's shape: NCHW float32, 2 references x all steps
//       per forward/backward, written out plainly (measure.cpp);
//   (b) modelgif's engine as a run configures it: tuned micro-batch and
//       memory format, float32;
//   (c) the same in bfloat16;
// and the machine's convolution rate on the model's own convolution shapes
// (float32 and bfloat16, same threads). The variants run interleaved, in a
// rotating order, round after round until their medians are stable; each is
// reported as a median with its spread, and ratios as medians of per-round
// ratios (the rounds share the machine's state, so noise largely cancels).
#include "modelgif/bench.hpp"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <memory>

#include "base/allocator.hpp"
#include "bench/measure.hpp"
#include "bench/zoos.hpp"
#include "inputs/command_line.hpp"
#include "modelgif/comm.hpp"
#include "modelgif/error.hpp"
#include "modelgif/field.hpp"
#include "modelgif/model.hpp"
#include "testbeds/train.hpp"

extern char** environ;  // what the (a0) process is given, as popen would give it

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace modelgif::bench {
namespace {

const c10::Device kCpu(c10::kCPU);

// A folder of its own under the temporary directory, removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    std::string name = (fs::temp_directory_path() / "modelgif-bench.XXXXXX").string();
    if (::mkdtemp(name.data()) == nullptr)
      throw_input("cannot make a folder under " + fs::temp_directory_path().string());
    path_ = name;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A file descriptor of ours, closed when it goes (or before, by close()).
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct BenchOptions {
  int64_t refs = 64;
  int steps = 50;
  int min_rounds = 5, max_rounds = 15;
  std::string dir;  // where the models are saved as TorchScript archives
};

// The inputs every variant gets: `refs` references drawn like Fashion-MNIST
// images (values in [0, 1]) with black baselines.
at::Tensor bench_references(int64_t refs) {
  at::manual_seed(0);
  return at::rand({refs, 1, 28, 28});
}

FieldSpec spec_of(int steps) {
  FieldSpec spec;
  spec.steps = steps;
  return spec;
}

// --- (a0): the published loop in a process of its own ------------------------------

// (a0), in a process of its own that keeps glibc's default allocator (as a
// PyTorch user's process does): one warm-up, then one timed published loop.
// Prints its points/s.
void published_child(const std::string& path, const BenchOptions& o, std::ostream& out) {
  const Model model({"model", path}, kCpu);
  const at::Tensor x = bench_references(o.refs), b = at::zeros_like(x);
  model.probe(x.slice(0, 0, 1));
  const FieldSpec spec = spec_of(o.steps);
  published_loop(model.fn(), x, b, spec);
  const auto t0 = Clock::now();
  published_loop(model.fn(), x, b, spec);
  out << std::setprecision(10) << static_cast<double>(o.refs * o.steps) / seconds_since(t0) << "\n";
}

// What this program, run again, printed on stdout and how it ended.
struct ChildOutput {
  bool started = false;
  int status = -1;  // waitpid's; -1 when it could not be waited for
  std::string text;
};

// Runs this program again with `argv` (argv[0] first), without a shell:
// /proc/self/exe itself, its stdout a pipe read to the end, its stdin and
// stderr this process's.
ChildOutput run_self(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ChildOutput child;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return child;
  Fd read_end(fds[0]), write_end(fds[1]);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return child;
  child.started = true;
  write_end.close();  // the child holds its own: the pipe ends when it exits
  char buf[4096];
  for (;;) {
    const ssize_t k = ::read(read_end.get(), buf, sizeof buf);
    if (k > 0)
      child.text.append(buf, static_cast<size_t>(k));
    else if (k == 0 || errno != EINTR)
      break;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return child;
  child.status = status;
  return child;
}

double run_published_child(const std::string& path, const BenchOptions& o, int threads) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::vector<std::string> argv = {
      self,        "--published-child",    path, "--refs", std::to_string(o.refs), "--steps", std::to_string(o.steps),
      "--threads", std::to_string(threads)};
  // How the messages show it: as a shell would be given it.
  const std::string cmd = "'" + self + "' --published-child '" + path + "' --refs " + std::to_string(o.refs) +
                          " --steps " + std::to_string(o.steps) + " --threads " + std::to_string(threads);
  const ChildOutput child = run_self(argv);
  if (!child.started) throw_input("cannot start a process for (a0): " + cmd);
  if (child.text.empty() || child.status != 0) throw_input("the process for (a0) failed: " + cmd);
  return std::stod(child.text);
}

// --- one model: its variants, built once -----------------------------------------

// One variant of modelgif's loop: the model loaded as a run loads it, its
// numerics chosen as a run chooses them (auto memory format, tuned max_points).
struct Variant {
  std::unique_ptr<Model> model;
  Numerics numerics;
  int64_t max_points = 0;
};
Variant tuned_variant(const ZooEntry& entry, const FieldSpec& spec, const at::Tensor& refs, at::ScalarType dtype,
                      int64_t fixed_points) {
  const at::Tensor one = refs.slice(0, 0, 1);
  Variant v;
  v.model = std::make_unique<Model>(entry, kCpu);
  v.model->probe(one);
  Tuning best;
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    const Numerics n{dtype, format};
    v.model->convert(n, one);
    const Tuning t = tune_max_points(v.model->fn(), entry.name, spec, refs, kCpu, tuning_limit(kCpu), n, fixed_points);
    if (t.points_per_second > best.points_per_second) best = t, v.numerics = n;
  }
  v.model->convert(v.numerics, one);
  v.max_points = best.max_points;
  return v;
}

// The model as a user brings it: a TorchScript archive in `dir`.
ZooEntry saved_model(const std::string& arch, const std::string& dir) {
  const ZooEntry entry{arch, dir + "/" + arch + ".pt"};
  auto m = make_classifier(arch, 10, 0);
  m.eval();
  m.save(entry.path);
  return entry;
}

Model probed_model(const ZooEntry& entry, const at::Tensor& one) {
  Model m(entry, kCpu);
  m.probe(one);
  return m;
}

// Everything the rounds of one model use, built in this order (the
// convolutions' random inputs follow the references' seed).
struct Subject {
  Subject(const std::string& arch_, const BenchOptions& o, int64_t fixed_points)
      : arch(arch_),
        entry(saved_model(arch, o.dir)),
        x(bench_references(o.refs)),
        b(at::zeros_like(x)),
        spec(spec_of(o.steps)),
        plain(probed_model(entry, x.slice(0, 0, 1))),
        f32(tuned_variant(entry, spec, x, at::kFloat, fixed_points)),
        b16(tuned_variant(entry, spec, x, at::kBFloat16, fixed_points)),
        layers(record_layers(plain.fn(), x.slice(0, 0, 1))),
        flops(total_flops(layers, false)),
        conv_flops(total_flops(layers, true)),
        conv32(make_convs(layers, f32.max_points, f32.numerics)),
        conv16(make_convs(layers, b16.max_points, b16.numerics)),
        e32(spec, f32.max_points, kCpu, f32.numerics),
        e16(spec, b16.max_points, kCpu, b16.numerics),
        target16(b16.model->float32_fn()) {}
  Subject(const Subject&) = delete;  // conv32 and conv16 point into layers
  Subject& operator=(const Subject&) = delete;

  // (b) and (c): modelgif's loop, float32 and bfloat16.
  at::Tensor field32() const { return e32.compute({f32.model->fn(), arch, x, b}).field; }
  at::Tensor field16() const {
    const ModelFn fn = b16.model->fn();
    FieldRequest r{fn, arch, x, b};
    r.target_model = &target16;
    return e16.compute(r).field;
  }

  std::string arch;
  ZooEntry entry;
  at::Tensor x, b;
  FieldSpec spec;
  Model plain;  // (a): float32, NCHW
  Variant f32, b16;
  std::vector<Layer> layers;
  double flops, conv_flops;
  ConvSet conv32, conv16;
  FieldEngine e32, e16;
  ModelFn target16;  // targets fixed in float32, as a run fixes them
};

// The fields agree: (b) with (a) to rounding, (c) within bfloat16's error.
struct Agreement {
  double scale, err32, err16;
};
Agreement agreement(const Subject& s) {
  const at::Tensor fa = published_loop(s.plain.fn(), s.x, s.b, s.spec);
  return {fa.abs().max().item<double>(), (s.field32() - fa).abs().max().item<double>(),
          (s.field16() - fa).abs().max().item<double>()};
}

// --- the rounds --------------------------------------------------------------------

double points_per_second(double points, const std::function<void()>& loop) {
  const auto t0 = Clock::now();
  loop();
  return points / seconds_since(t0);
}

// GFLOP/s of the model's convolutions at a batch of `batch`: every layer, over
// and over for about 0.2 s.
double conv_rate(const ConvSet& set, int64_t batch, double conv_flops) {
  double secs = 0;
  int64_t reps = 0;
  while (secs < 0.2) secs += time_convs(set), ++reps;
  return static_cast<double>(reps * batch) * conv_flops / secs / 1e9;
}

// One function per series, in the order of `series_of`: each times one round.
std::vector<std::function<double()>> variants(const Subject& s, const BenchOptions& o, int threads) {
  const double points = static_cast<double>(o.refs * o.steps);
  return {[&s, points] { return points_per_second(points, [&] { published_loop(s.plain.fn(), s.x, s.b, s.spec); }); },
          [&s, points] { return points_per_second(points, [&] { s.field32(); }); },
          [&s, points] { return points_per_second(points, [&] { s.field16(); }); },
          [&s] { return conv_rate(s.conv32, s.f32.max_points, s.conv_flops); },
          [&s] { return conv_rate(s.conv16, s.b16.max_points, s.conv_flops); },
          [&s, &o, threads] { return run_published_child(s.entry.path, o, threads); }};
}
std::vector<Series> series_of() {
  return {{"a", {}}, {"b", {}}, {"c", {}}, {"conv32", {}}, {"conv16", {}}, {"a0", {}}};
}

// Every variant once to warm up (the child warms itself up), then rounds in
// a rotating order (none always runs first) until the medians are stable.
// Returns the rounds run.
int measure(const std::vector<std::function<double()>>& run, std::vector<Series>& s, const BenchOptions& o) {
  for (size_t v = 0; v + 1 < run.size(); ++v) run[v]();
  int rounds = 0;
  while (rounds < o.max_rounds && (rounds < o.min_rounds || !stable(s, 3, 0.02))) {
    for (size_t i = 0; i < run.size(); ++i) {
      const size_t v = (i + static_cast<size_t>(rounds)) % run.size();
      s[v].values.push_back(run[v]());
    }
    ++rounds;
  }
  return rounds;
}

// --- the report ----------------------------------------------------------------------

// A field point costs a forward and a backward to the input: about 2 forwards.
std::vector<double> gflops_of(const std::vector<double>& pps, double flops) {
  std::vector<double> g;
  for (const double p : pps) g.push_back(p * 2 * flops / 1e9);
  return g;
}
std::vector<double> percent_of(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r = ratios(a, b);
  for (auto& v : r) v *= 100;
  return r;
}
std::string numerics_label(const Numerics& n, int64_t p) {
  return precision_name(n.dtype) + ", " + memory_format_name(n.format) + ", max_points " + std::to_string(p);
}

// The table of rates: points/s, GFLOP/s and the share of the convolution rate.
void report_rates(const Subject& m, const std::vector<Series>& s, std::ostream& out) {
  const std::vector<std::string> labels = {"(a0) published loop, as in PyTorch", "(a) published loop, memory kept",
                                           "(b) modelgif (" + numerics_label(m.f32.numerics, m.f32.max_points) + ")",
                                           "(c) modelgif (" + numerics_label(m.b16.numerics, m.b16.max_points) + ")"};
  size_t width = 0;
  for (const auto& l : labels) width = std::max(width, l.size());
  out << "  " << std::left << std::setw(static_cast<int>(width)) << "median [min, max] over the rounds" << std::right
      << std::setw(26) << "points/s" << std::setw(10) << "GFLOP/s"
      << "   of the conv rate\n";
  const auto row = [&](const std::string& what, const std::vector<double>& pps, const std::vector<double>& conv) {
    const std::vector<double> g = gflops_of(pps, m.flops);
    out << "  " << std::left << std::setw(static_cast<int>(width)) << what << std::right << std::setw(26)
        << spread(pps, 0) << std::setw(10) << median(g) << std::setw(10) << median(percent_of(g, conv)) << " %\n";
  };
  row(labels[0], s[5].values, s[3].values);
  row(labels[1], s[0].values, s[3].values);
  row(labels[2], s[1].values, s[3].values);
  row(labels[3], s[2].values, s[4].values);
  out << "  conv rate, the model's convolutions:  float32 " << spread(s[3].values, 1) << " GFLOP/s, bfloat16 "
      << spread(s[4].values, 1) << " GFLOP/s\n";
}

// The ratios of the rates, round by round, and how far the fields are apart.
void report_ratios(const std::vector<Series>& s, const Agreement& a, std::ostream& out) {
  const auto& A = s[0].values;
  const auto& B = s[1].values;
  const auto& C = s[2].values;
  const auto& A0 = s[5].values;
  out << std::setprecision(2);
  out << "  ratios (median of per-round ratios [min, max]):\n"
      << "    the allocator alone  a/a0 " << spread(ratios(A, A0), 2) << "\n"
      << "    modelgif float32     b/a0 " << spread(ratios(B, A0), 2) << "   b/a " << spread(ratios(B, A), 2) << "\n"
      << "    modelgif bfloat16    c/a0 " << spread(ratios(C, A0), 2) << "   c/a " << spread(ratios(C, A), 2) << "\n";
  out << std::scientific << std::setprecision(1);
  out << "  fields against (a): (b) max |diff| " << a.err32 << ", (c) " << a.err16 << " (field scale " << a.scale
      << ")\n";
  out << std::defaultfloat;
}

void bench_model(const std::string& arch, const BenchOptions& o, int threads, int64_t fixed_points, std::ostream& out) {
  const Subject s(arch, o, fixed_points);
  const Agreement a = agreement(s);
  std::vector<Series> series = series_of();
  const int rounds = measure(variants(s, o, threads), series, o);
  out << std::fixed << std::setprecision(1);
  out << "\n"
      << arch << " (1x28x28 -> 10, " << s.flops / 1e6 << " MFLOP per forward, " << s.layers.size()
      << " conv/linear layers): " << o.refs << " references x " << o.steps << " steps, " << threads << " threads, "
      << rounds << " rounds\n";
  report_rates(s, series, out);
  report_ratios(series, a, out);
}

// --- the program -----------------------------------------------------------------------

const char* const kUsage =
    "usage: modelgif-bench [options]\n\nMeasures field throughput (path points/s), the variants interleaved\n"
    "round after round: (a0) the published loop's shape (float32, NCHW, 2\n"
    "references x all steps per batch) in a process with glibc's default\n"
    "allocator, as a PyTorch user runs it; (a) the same in modelgif's process,\n"
    "which keeps freed memory; (b) modelgif's loop (tuned micro-batch and\n"
    "memory format, float32); (c) the same in bfloat16; and the convolution\n"
    "rate of the model's own layers. Prints medians, spreads and ratios.";

po::options_description bench_options() {
  po::options_description desc("options of modelgif-bench");
  desc.add_options()("help,h", "this help")(
      "model", po::value<std::vector<std::string>>()->multitoken(),
      "architectures to measure: cnn_a (the demo's), cnn_deep, resnet_mini (default: all three)")(
      "threads", po::value<int>()->default_value(0), "threads (0 = all cores)")(
      "refs", po::value<int>()->default_value(64), "references")("steps", po::value<int>()->default_value(50),
                                                                 "quadrature steps")(
      "max-points", po::value<int>()->default_value(0), "micro-batch bound of (b) and (c) (0 = tuned)")(
      "rounds", po::value<int>()->default_value(5), "rounds at least (more until the medians are stable)")(
      "max-rounds", po::value<int>()->default_value(15), "rounds at most")(
      "save-zoo", po::value<std::string>(),
      "instead of measuring: write a zoo of --zoo-size freshly initialized models of the first --model into "
      "this folder, with a run config (run.yaml: 64 Fashion-MNIST test images, 50 steps) for timing runs")(
      "zoo-size", po::value<int>()->default_value(8), "models in the --save-zoo zoo")(
      "save-taskonomy", po::value<std::string>(),
      "instead of measuring: write a Taskonomy-shaped zoo (--zoo-size encoders 3x128x128 -> 8x16x16, --refs "
      "references, target topk:1, channel mean, 50 steps) and its run.yaml into this folder")(
      "published-child", po::value<std::string>(), "(internal) time (a0) on this model file in this process");
  return desc;
}

void check_bounds(const po::variables_map& vm) {
  for (const char* key : {"refs", "steps", "rounds", "max-rounds"})
    if (vm[key].as<int>() < 1) throw_usage(std::string("--") + key + " must be >= 1");
  for (const char* key : {"threads", "max-points"})
    if (vm[key].as<int>() < 0) throw_usage(std::string("--") + key + " must be >= 0 (0 = chosen for you)");
}

BenchOptions options_of(const po::variables_map& vm) {
  BenchOptions o;
  o.refs = vm["refs"].as<int>();
  o.steps = vm["steps"].as<int>();
  o.min_rounds = vm["rounds"].as<int>();
  o.max_rounds = std::max(o.min_rounds, vm["max-rounds"].as<int>());
  return o;
}

// What the options ask for once they are checked and the process is set up.
void dispatch(const po::variables_map& vm, const std::vector<std::string>& archs, BenchOptions o, std::ostream& out) {
  if (vm.count("save-zoo")) {
    if (vm["zoo-size"].as<int>() < 1) throw_usage("--zoo-size must be >= 1");
    return save_zoo(vm["save-zoo"].as<std::string>(), archs.front(), vm["zoo-size"].as<int>(), out);
  }
  if (vm.count("save-taskonomy")) {
    if (vm["zoo-size"].as<int>() < 2) throw_usage("--zoo-size must be >= 2");
    return save_taskonomy_zoo(vm["save-taskonomy"].as<std::string>(), vm["zoo-size"].as<int>(),
                              static_cast<int>(o.refs), out);
  }
  if (vm.count("published-child")) {
    set_threads(vm["threads"].as<int>());
    return published_child(vm["published-child"].as<std::string>(), o, out);
  }
  const int threads = set_threads(vm["threads"].as<int>());
  const ScratchDir dir;
  o.dir = dir.path();
  out << "modelgif-bench: " << threads << " threads, LibTorch " << TORCH_VERSION << "; " << keep_freed_memory() << "\n";
  for (const auto& a : archs) bench_model(a, o, threads, vm["max-points"].as<int>(), out);
}

}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    const po::options_description desc = bench_options();
    po::variables_map vm;
    if (!parse_command(args, desc, nullptr, kUsage, out, vm)) return kExitOk;
    check_bounds(vm);
    if (!vm.count("published-child")) keep_freed_memory();  // before the first tensor
    // float32 means float32 on CUDA too, as in a run (place() in src/run/setup.cpp).
    keep_float32_exact();
    std::vector<std::string> archs = {"cnn_a", "cnn_deep", "resnet_mini"};
    if (vm.count("model")) archs = vm["model"].as<std::vector<std::string>>();
    for (const auto& a : archs) make_classifier(a, 10, 0);  // unknown names: one line, before any work
    dispatch(vm, archs, options_of(vm), out);
    return kExitOk;
  } catch (const po::error& e) {
    err << "modelgif-bench: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (...) {
    return comm::report_failure(std::current_exception(), "modelgif-bench", err);
  }
}

}  // namespace modelgif::bench
