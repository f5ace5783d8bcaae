// modelgif-bench: field throughput measured side by side in one process.
//   (a) the published loop's shape: NCHW float32, 2 references x all steps
//       per forward/backward, written out plainly here;
//   (b) modelgif's engine as a run configures it: tuned micro-batch and
//       memory format, float32;
//   (c) the same in bfloat16;
// and the machine's convolution rate on the model's own convolution shapes
// (float32 and bfloat16, same threads). The variants run interleaved, in a
// rotating order, round after round until their medians are stable; each is
// reported as a median with its spread, and ratios as medians of per-round
// ratios (the rounds share the machine's state, so noise largely cancels).
#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <stdlib.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <map>
#include <sstream>

#include "base/allocator.hpp"
#include "base/files.hpp"
#include "cli/commands.hpp"
#include "modelgif/cli.hpp"
#include "modelgif/error.hpp"
#include "modelgif/field.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/model.hpp"
#include "testbeds/train.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace modelgif::cli {
namespace {

using Clock = std::chrono::steady_clock;

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
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// --- the model's layers, recorded during one forward --------------------------

struct Layer {
  std::string op;  // aten::conv2d, aten::convolution, aten::_convolution or aten::linear
  std::vector<int64_t> input, weight, stride, padding, dilation;
  int64_t groups = 1;
  double flops = 0;  // per input image, a multiply-add counting 2
};

std::vector<Layer>* recording = nullptr;  // set while a forward is recorded

std::unique_ptr<at::ObserverContext> record_layer(const at::RecordFunction& fn) {
  const std::string op = fn.name();
  const bool conv = op == "aten::conv2d" || op == "aten::convolution" || op == "aten::_convolution";
  if (recording == nullptr || (!conv && op != "aten::linear")) return nullptr;
  const auto in = fn.inputs();
  if (in.size() < 2 || !in[0].isTensor() || !in[1].isTensor()) return nullptr;
  Layer l;
  l.op = op;
  l.input = in[0].toTensor().sizes().vec();
  l.weight = in[1].toTensor().sizes().vec();
  const int64_t n = std::max<int64_t>(l.input[0], 1);
  if (!conv) {
    const double rows = static_cast<double>(in[0].toTensor().numel() / l.input.back()) / static_cast<double>(n);
    l.flops = 2.0 * rows * static_cast<double>(l.weight[0] * l.weight[1]);
  } else {
    if (l.input.size() != 4 || in.size() < 7 || !in[3].isIntList() || !in[4].isIntList() || !in[5].isIntList())
      return nullptr;  // not a plain 2-D convolution (string padding, 1-D or 3-D)
    l.stride = in[3].toIntVector(), l.padding = in[4].toIntVector(), l.dilation = in[5].toIntVector();
    l.groups = in[op == "aten::conv2d" ? 6 : 8].toInt();
    double out = 1;
    for (size_t d = 0; d < 2; ++d)
      out *= static_cast<double>(
          (l.input[2 + d] + 2 * l.padding[d] - l.dilation[d] * (l.weight[2 + d] - 1) - 1) / l.stride[d] + 1);
    l.flops = 2.0 * out * static_cast<double>(l.weight[0] * l.weight[1] * l.weight[2] * l.weight[3]);
  }
  recording->push_back(l);
  return nullptr;
}

// The convolutions and linear layers of one forward on `one` (1 x C x H x W).
// An op that calls another (conv2d -> convolution -> _convolution) is
// counted once: the outermost name seen.
std::vector<Layer> record_layers(const ModelFn& fn, const at::Tensor& one) {
  std::vector<Layer> all;
  recording = &all;
  const auto handle = at::addThreadLocalCallback(
      at::RecordFunctionCallback(&record_layer).needsInputs(true).scopes({at::RecordScope::FUNCTION}));
  {
    at::NoGradGuard no_grad;
    fn(one);
  }
  at::removeCallback(handle);
  recording = nullptr;
  for (const char* outer : {"aten::conv2d", "aten::convolution", "aten::_convolution"}) {
    if (std::none_of(all.begin(), all.end(), [&](const Layer& l) { return l.op == outer; })) continue;
    std::vector<Layer> kept;
    for (const auto& l : all)
      if (l.op == outer || l.op == "aten::linear") kept.push_back(l);
    return kept;
  }
  return all;
}

double total_flops(const std::vector<Layer>& layers, bool convs_only) {
  double f = 0;
  for (const auto& l : layers)
    if (!convs_only || l.op != "aten::linear") f += l.flops;
  return f;
}

// Seconds of one forward of every convolution at a batch of `batch` inputs.
struct ConvSet {
  std::vector<std::pair<at::Tensor, at::Tensor>> inputs;  // input, weight
  std::vector<const Layer*> layers;
};
ConvSet make_convs(const std::vector<Layer>& layers, int64_t batch, Numerics num) {
  ConvSet set;
  for (const auto& l : layers) {
    if (l.op == "aten::linear") continue;
    const at::Tensor x = at::rand({batch, l.input[1], l.input[2], l.input[3]}).to(num.dtype).contiguous(num.format);
    const at::Tensor w = at::rand(l.weight).to(num.dtype).contiguous(num.format);
    set.inputs.emplace_back(x, w);
    set.layers.push_back(&l);
  }
  return set;
}
double time_convs(const ConvSet& set) {
  at::NoGradGuard no_grad;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < set.layers.size(); ++i) {
    const Layer& l = *set.layers[i];
    at::conv2d(set.inputs[i].first, set.inputs[i].second, {}, l.stride, l.padding, l.dilation, l.groups);
  }
  return seconds_since(t0);
}

// --- (a): the published loop, plainly ------------------------------------------

// 2 references x all S steps per forward/backward, NCHW float32: the shape of
// the published ModelGiF code. Cumulative fields times (x - b), all steps.
at::Tensor published_loop(const ModelFn& fn, const at::Tensor& x, const at::Tensor& b, const FieldSpec& spec) {
  const int64_t n = x.size(0), S = spec.steps;
  const Quadrature q = make_quadrature(spec.rule, spec.steps);
  const at::Tensor alpha = at::tensor(q.nodes, at::kDouble).to(at::kFloat).view({1, S, 1, 1, 1});
  const at::Tensor w = at::tensor(q.weights, at::kDouble).to(at::kFloat).view({1, S, 1, 1, 1});
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < n; i += 2) {
    const at::Tensor xi = x.slice(0, i, std::min(n, i + 2)), bi = b.slice(0, i, std::min(n, i + 2));
    const int64_t r = xi.size(0);
    at::Tensor mask;
    {
      at::NoGradGuard no_grad;
      mask = target_mask(spec.target, fn(xi), at::Tensor(), "bench").repeat_interleave(S, 0);
    }
    const at::Tensor diff = (xi - bi).unsqueeze(1);
    const at::Tensor pts = (bi.unsqueeze(1) + alpha * diff).flatten(0, 1).detach().requires_grad_(true);
    const at::Tensor y = (fn(pts) * mask).sum();
    const at::Tensor g = torch::autograd::grad({y}, {pts})[0].view({r, S, x.size(1), x.size(2), x.size(3)}) * w;
    out.push_back((g.cumsum(1) * diff).flatten(2));
  }
  return at::cat(out);
}

// --- the measurement --------------------------------------------------------------

struct Series {
  std::string label;
  std::vector<double> values;  // per round
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// "1,234 points/s" figures with their spread: "median [min, max]".
std::string spread(const std::vector<double>& v, int precision) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(precision) << median(v) << " [" << *std::min_element(v.begin(), v.end()) << ", "
    << *std::max_element(v.begin(), v.end()) << "]";
  return o.str();
}

// Medians of the last `window` rounds moved by less than `tolerance`.
bool stable(const std::vector<Series>& series, size_t window, double tolerance) {
  for (const auto& s : series) {
    if (s.values.size() < window + 1) return false;
    const std::vector<double> before(s.values.end() - static_cast<long>(window) - 1, s.values.end() - 1);
    const std::vector<double> now(s.values.end() - static_cast<long>(window), s.values.end());
    if (std::fabs(median(now) / median(before) - 1) > tolerance) return false;
  }
  return true;
}

std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r;
  for (size_t i = 0; i < a.size(); ++i) r.push_back(a[i] / b[i]);
  return r;
}

struct BenchOptions {
  int64_t refs = 64;
  int steps = 50;
  int min_rounds = 5, max_rounds = 15;
  std::string dir;  // where the models are saved as TorchScript archives
};

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
  v.model = std::make_unique<Model>(entry, c10::Device(c10::kCPU));
  v.model->probe(one);
  Tuning best;
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    const Numerics n{dtype, format};
    v.model->convert(n, one);
    const Tuning t = tune_max_points(v.model->fn(), entry.name, spec, refs, c10::Device(c10::kCPU),
                                     tuning_limit(c10::Device(c10::kCPU)), n, fixed_points);
    if (t.points_per_second > best.points_per_second) best = t, v.numerics = n;
  }
  v.model->convert(v.numerics, one);
  v.max_points = best.max_points;
  return v;
}

// The inputs every variant gets: `refs` references drawn like Fashion-MNIST
// images (values in [0, 1]) with black baselines.
at::Tensor bench_references(int64_t refs) {
  at::manual_seed(0);
  return at::rand({refs, 1, 28, 28});
}

// (a0), in a process of its own that keeps glibc's default allocator (as a
// PyTorch user's process does): one warm-up, then one timed published loop.
// Prints its points/s.
void published_child(const std::string& path, const BenchOptions& o, std::ostream& out) {
  const Model model({"model", path}, c10::Device(c10::kCPU));
  const at::Tensor x = bench_references(o.refs), b = at::zeros_like(x);
  model.probe(x.slice(0, 0, 1));
  FieldSpec spec;
  spec.steps = o.steps;
  published_loop(model.fn(), x, b, spec);
  const auto t0 = Clock::now();
  published_loop(model.fn(), x, b, spec);
  out << std::setprecision(10) << static_cast<double>(o.refs * o.steps) / seconds_since(t0) << "\n";
}

// `count` freshly initialized models of `arch` (seeds 100, 101, ...) and a
// run config over them, for timing whole runs (ranks, threads, phases).
void save_zoo(const std::string& dir, const std::string& arch, int count, std::ostream& out) {
  ensure_dir(dir, "--save-zoo");
  std::ostringstream yaml;
  yaml << "# written by modelgif-bench --save-zoo: " << count << " freshly initialized " << arch << " models\n"
       << "zoo:\n";
  for (int i = 0; i < count; ++i) {
    const std::string name = arch + "-" + std::to_string(i), path = dir + "/" + name + ".pt";
    if (fs::exists(path)) throw_input("--save-zoo: " + path + " exists (give an empty folder)");
    auto m = make_classifier(arch, 10, 100 + static_cast<uint64_t>(i));
    m.eval();
    m.save(path);
    yaml << "  - {name: " << name << ", path: " << path << "}\n";
  }
  yaml << "references:\n  source: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n  count: 64\n"
       << "  mean: [0.286]\n  std: [0.353]\n"
       << "field: {steps: 50}\ndistance: {metrics: [cosine]}\noutput: {path: " << dir << "/out.h5}\n";
  write_text_atomic(dir + "/run.yaml", yaml.str());
  out << "wrote " << count << " " << arch << " models and " << dir << "/run.yaml\n";
}

// The paper's task-relatedness shapes, tiny: `count` encoders 3x128x128 ->
// 8x16x16 (three stride-2 convolutions), `refs` seeded references in [-1, 1]
// and a run config (target topk:1, channel mean, 50 steps: D = 16384), so
// that the pipeline's own costs show (tests/bench/taskonomy.sh).
void save_taskonomy_zoo(const std::string& dir, int count, int refs, std::ostream& out) {
  ensure_dir(dir, "--save-taskonomy");
  std::ostringstream yaml;
  yaml << "# written by modelgif-bench --save-taskonomy: " << count << " encoders 3x128x128 -> 8x16x16, " << refs
       << " references\nzoo:\n";
  for (int i = 0; i < count; ++i) {
    const std::string name = "encoder-" + std::to_string(i), path = dir + "/" + name + ".pt";
    if (fs::exists(path)) throw_input("--save-taskonomy: " + path + " exists (give an empty folder)");
    torch::manual_seed(1000 + static_cast<uint64_t>(i));
    torch::jit::Module m("Encoder");
    const auto conv = [&](const std::string& w, int64_t o, int64_t c) {
      m.register_parameter(w + "w", torch::randn({o, c, 3, 3}) * std::sqrt(2.0 / (9.0 * static_cast<double>(c))),
                           false);
      m.register_parameter(w + "b", torch::zeros({o}), false);
    };
    conv("c1", 16, 3), conv("c2", 32, 16), conv("c3", 8, 32);
    m.define(R"(
def forward(self, x):
    h = torch.relu(torch.conv2d(x, self.c1w, self.c1b, [2, 2], [1, 1]))
    h = torch.relu(torch.conv2d(h, self.c2w, self.c2b, [2, 2], [1, 1]))
    return torch.conv2d(h, self.c3w, self.c3b, [2, 2], [1, 1])
)");
    m.eval();
    m.save(path);
    yaml << "  - {name: " << name << ", path: " << path << "}\n";
  }
  torch::manual_seed(7);
  const at::Tensor x = (torch::rand({refs, 3, 128, 128}) * 2 - 1).contiguous();
  h5::write_file(dir + "/refs.h5", [&](hid_t f) {
    h5::write(f, "/images", h5::Type::F32, {static_cast<hsize_t>(refs), 3, 128, 128}, x.data_ptr());
  });
  yaml << "references: {source: " << dir << "/refs.h5:/images}\n"
       << "field: {steps: 50, target: 'topk:1', reduce_channels: mean}\n"
       << "distance: {metrics: [cosine]}\n"
       << "output: {path: " << dir << "/out.h5, pictures: false}\n"
       << "run: {block: 64}\n";
  write_text_atomic(dir + "/run.yaml", yaml.str());
  out << "wrote " << count << " encoders, " << refs << " references and " << dir << "/run.yaml\n";
}

double run_published_child(const std::string& path, const BenchOptions& o, int threads) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::string cmd = "'" + self + "' --published-child '" + path + "' --refs " + std::to_string(o.refs) +
                          " --steps " + std::to_string(o.steps) + " --threads " + std::to_string(threads);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) throw_input("cannot start a process for (a0): " + cmd);
  char buf[128] = {0};
  const bool read = std::fgets(buf, sizeof buf, pipe) != nullptr;
  const int status = ::pclose(pipe);
  if (!read || status != 0) throw_input("the process for (a0) failed: " + cmd);
  return std::stod(buf);
}

void bench_model(const std::string& arch, const BenchOptions& o, int threads, int64_t fixed_points, std::ostream& out) {
  // The model as a user brings it: a TorchScript archive.
  const ZooEntry entry{arch, o.dir + "/" + arch + ".pt"};
  {
    auto m = make_classifier(arch, 10, 0);
    m.eval();
    m.save(entry.path);
  }
  const at::Tensor x = bench_references(o.refs), b = at::zeros_like(x), one = x.slice(0, 0, 1);
  FieldSpec spec;
  spec.steps = o.steps;
  const double points = static_cast<double>(o.refs * o.steps);

  Model plain(entry, c10::Device(c10::kCPU));  // (a): float32, NCHW
  plain.probe(one);
  const Variant f32 = tuned_variant(entry, spec, x, at::kFloat, fixed_points);
  const Variant b16 = tuned_variant(entry, spec, x, at::kBFloat16, fixed_points);
  const std::vector<Layer> layers = record_layers(plain.fn(), one);
  const double flops = total_flops(layers, false), conv_flops = total_flops(layers, true);
  const ConvSet conv32 = make_convs(layers, f32.max_points, f32.numerics);
  const ConvSet conv16 = make_convs(layers, b16.max_points, b16.numerics);
  const FieldEngine e32(spec, f32.max_points, c10::Device(c10::kCPU), f32.numerics);
  const FieldEngine e16(spec, b16.max_points, c10::Device(c10::kCPU), b16.numerics);
  const ModelFn target16 = b16.model->float32_fn();  // targets fixed in float32, as a run fixes them

  // The fields agree: (b) with (a) to rounding, (c) within bfloat16's error.
  const at::Tensor fa = published_loop(plain.fn(), x, b, spec);
  const double scale = fa.abs().max().item<double>();
  const double err32 = (e32.compute(f32.model->fn(), arch, x, b, at::Tensor()) - fa).abs().max().item<double>();
  const double err16 = (e16.compute(b16.model->fn(), arch, x, b, at::Tensor(), 0, {}, nullptr, &target16) - fa)
                           .abs()
                           .max()
                           .item<double>();

  std::vector<Series> s = {{"a", {}}, {"b", {}}, {"c", {}}, {"conv32", {}}, {"conv16", {}}, {"a0", {}}};
  const std::vector<std::function<double()>> run = {
      [&] {
        const auto t0 = Clock::now();
        published_loop(plain.fn(), x, b, spec);
        return points / seconds_since(t0);
      },
      [&] {
        const auto t0 = Clock::now();
        e32.compute(f32.model->fn(), arch, x, b, at::Tensor());
        return points / seconds_since(t0);
      },
      [&] {
        const auto t0 = Clock::now();
        e16.compute(b16.model->fn(), arch, x, b, at::Tensor(), 0, {}, nullptr, &target16);
        return points / seconds_since(t0);
      },
      // Convolution rates: each round times every layer for about 0.2 s.
      [&] {
        double secs = 0;
        int64_t reps = 0;
        while (secs < 0.2) secs += time_convs(conv32), ++reps;
        return static_cast<double>(reps * f32.max_points) * conv_flops / secs / 1e9;
      },
      [&] {
        double secs = 0;
        int64_t reps = 0;
        while (secs < 0.2) secs += time_convs(conv16), ++reps;
        return static_cast<double>(reps * b16.max_points) * conv_flops / secs / 1e9;
      },
      [&] { return run_published_child(entry.path, o, threads); }};
  for (size_t v = 0; v + 1 < run.size(); ++v) run[v]();  // warm-up (the child warms itself up)
  int rounds = 0;
  while (rounds < o.max_rounds && (rounds < o.min_rounds || !stable(s, 3, 0.02))) {
    for (size_t i = 0; i < run.size(); ++i) {  // a rotating order: none always runs first
      const size_t v = (i + static_cast<size_t>(rounds)) % run.size();
      s[v].values.push_back(run[v]());
    }
    ++rounds;
  }

  // A field point costs a forward and a backward to the input: about 2 forwards.
  const auto gflops = [&](const std::vector<double>& pps) {
    std::vector<double> g;
    for (const double p : pps) g.push_back(p * 2 * flops / 1e9);
    return g;
  };
  const auto of = [](const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> r = ratios(a, b);
    for (auto& v : r) v *= 100;
    return r;
  };
  const auto shape = [](const Numerics& n, int64_t p) {
    return precision_name(n.dtype) + ", " + memory_format_name(n.format) + ", max_points " + std::to_string(p);
  };
  const auto& A = s[0].values;
  const auto& B = s[1].values;
  const auto& C = s[2].values;
  const auto& A0 = s[5].values;
  out << std::fixed << std::setprecision(1);
  out << "\n"
      << arch << " (1x28x28 -> 10, " << flops / 1e6 << " MFLOP per forward, " << layers.size()
      << " conv/linear layers): " << o.refs << " references x " << o.steps << " steps, " << threads << " threads, "
      << rounds << " rounds\n";
  const std::vector<std::string> labels = {"(a0) published loop, as in PyTorch", "(a) published loop, memory kept",
                                           "(b) modelgif (" + shape(f32.numerics, f32.max_points) + ")",
                                           "(c) modelgif (" + shape(b16.numerics, b16.max_points) + ")"};
  size_t width = 0;
  for (const auto& l : labels) width = std::max(width, l.size());
  out << "  " << std::left << std::setw(static_cast<int>(width)) << "median [min, max] over the rounds" << std::right
      << std::setw(26) << "points/s" << std::setw(10) << "GFLOP/s"
      << "   of the conv rate\n";
  const auto row = [&](const std::string& what, const std::vector<double>& pps, const std::vector<double>& conv) {
    out << "  " << std::left << std::setw(static_cast<int>(width)) << what << std::right << std::setw(26)
        << spread(pps, 0) << std::setw(10) << median(gflops(pps)) << std::setw(10) << median(of(gflops(pps), conv))
        << " %\n";
  };
  row(labels[0], A0, s[3].values);
  row(labels[1], A, s[3].values);
  row(labels[2], B, s[3].values);
  row(labels[3], C, s[4].values);
  out << "  conv rate, the model's convolutions:  float32 " << spread(s[3].values, 1) << " GFLOP/s, bfloat16 "
      << spread(s[4].values, 1) << " GFLOP/s\n";
  out << std::setprecision(2);
  out << "  ratios (median of per-round ratios [min, max]):\n"
      << "    the allocator alone  a/a0 " << spread(ratios(A, A0), 2) << "\n"
      << "    modelgif float32     b/a0 " << spread(ratios(B, A0), 2) << "   b/a " << spread(ratios(B, A), 2) << "\n"
      << "    modelgif bfloat16    c/a0 " << spread(ratios(C, A0), 2) << "   c/a " << spread(ratios(C, A), 2) << "\n";
  out << std::scientific << std::setprecision(1);
  out << "  fields against (a): (b) max |diff| " << err32 << ", (c) " << err16 << " (field scale " << scale << ")\n";
  out << std::defaultfloat;
}

}  // namespace

int bench(const Args& args, std::ostream& out, std::ostream& err) {
  try {
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
    po::variables_map vm;
    if (!parse_command(
            args, desc, nullptr,
            "usage: modelgif-bench [options]\n\nMeasures field throughput (path points/s), the variants interleaved\n"
            "round after round: (a0) the published loop's shape (float32, NCHW, 2\n"
            "references x all steps per batch) in a process with glibc's default\n"
            "allocator, as a PyTorch user runs it; (a) the same in modelgif's process,\n"
            "which keeps freed memory; (b) modelgif's loop (tuned micro-batch and\n"
            "memory format, float32); (c) the same in bfloat16; and the convolution\n"
            "rate of the model's own layers. Prints medians, spreads and ratios.",
            out, vm))
      return kExitOk;
    for (const char* key : {"refs", "steps", "rounds", "max-rounds"})
      if (vm[key].as<int>() < 1) throw_usage(std::string("--") + key + " must be >= 1");
    for (const char* key : {"threads", "max-points"})
      if (vm[key].as<int>() < 0) throw_usage(std::string("--") + key + " must be >= 0 (0 = chosen for you)");
    BenchOptions o;
    if (!vm.count("published-child")) keep_freed_memory();  // before the first tensor
    std::vector<std::string> archs = {"cnn_a", "cnn_deep", "resnet_mini"};
    if (vm.count("model")) archs = vm["model"].as<std::vector<std::string>>();
    for (const auto& a : archs) make_classifier(a, 10, 0);  // unknown names: one line, before any work
    o.refs = vm["refs"].as<int>();
    o.steps = vm["steps"].as<int>();
    o.min_rounds = vm["rounds"].as<int>();
    o.max_rounds = std::max(o.min_rounds, vm["max-rounds"].as<int>());
    if (vm.count("save-zoo")) {
      if (vm["zoo-size"].as<int>() < 1) throw_usage("--zoo-size must be >= 1");
      save_zoo(vm["save-zoo"].as<std::string>(), archs.front(), vm["zoo-size"].as<int>(), out);
      return kExitOk;
    }
    if (vm.count("save-taskonomy")) {
      if (vm["zoo-size"].as<int>() < 2) throw_usage("--zoo-size must be >= 2");
      save_taskonomy_zoo(vm["save-taskonomy"].as<std::string>(), vm["zoo-size"].as<int>(), o.refs, out);
      return kExitOk;
    }
    if (vm.count("published-child")) {
      set_threads(vm["threads"].as<int>());
      published_child(vm["published-child"].as<std::string>(), o, out);
      return kExitOk;
    }
    const int threads = set_threads(vm["threads"].as<int>());
    const ScratchDir dir;
    o.dir = dir.path();
    out << "modelgif-bench: " << threads << " threads, LibTorch " << TORCH_VERSION << "; " << keep_freed_memory()
        << "\n";
    for (const auto& a : archs) bench_model(a, o, threads, vm["max-points"].as<int>(), out);
    return kExitOk;
  } catch (const po::error& e) {
    err << "modelgif-bench: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (...) {
    return report_failure(std::current_exception(), "modelgif-bench", err);
  }
}

}  // namespace modelgif::cli
