// The task-relatedness testbed (MODELGIF.md §6.1) on Fashion-MNIST, in the
// spirit of Taskonomy: one encoder per task, all of the same architecture
// (input 1 x 28 x 28, output 8 x 7 x 7), each trained jointly with a small
// task head; then the ground-truth transfer affinity between every pair of
// tasks, measured honestly: for every (source encoder i, target task j) a fresh
// head of task j, with the same initialization, data and budget for every i, is
// trained on the *frozen* encoder i; its loss on the test images, negated, is
// the affinity (as Taskonomy's affinities come from test losses of transfers).
//
// Data: encoders train on train[0:40000]; probes, like Taskonomy's transfers,
// on far fewer images, train[40000:45000]; losses are on all 10000 test
// images (every count scaled by `scale`). The fields use random test images
// (see run.yaml). Random parts of a task (noise, blanked squares,
// rotations, flips) are drawn from a seed of the task and the split, so every
// encoder is probed on the same inputs.
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "analysis/svg.hpp"
#include "base/files.hpp"
#include "base/hash.hpp"
#include "inputs/fashion.hpp"
#include "modelgif/error.hpp"
#include "testbeds/train.hpp"
#include "testbeds/zoo_cache.hpp"
#include "testbeds/zoos.hpp"

namespace fs = std::filesystem;

namespace modelgif {
namespace {

enum class Head { Classes, Pixels };

struct Task {
  const char* name;
  Head head;
  int64_t outputs;     // classes, or channels of the per-pixel output
  const char* metric;  // the score of a probe (higher is better)
  const char* what;
};

const Task kTasks[] = {
    {"class10", Head::Classes, 10, "accuracy", "the 10 classes"},
    {"class5", Head::Classes, 5, "accuracy", "5 coarse groups: tops, trousers, dresses, footwear, bags"},
    {"class2", Head::Classes, 2, "accuracy", "clothing or not (footwear and bags)"},
    {"rotation", Head::Classes, 4, "accuracy", "by how much the image was rotated: 0, 90, 180 or 270 degrees"},
    {"flip", Head::Classes, 2, "accuracy", "whether the image was turned upside down"},
    {"autoencode", Head::Pixels, 1, "R2", "the image itself, per pixel"},
    {"denoise", Head::Pixels, 1, "R2", "the clean image from one with Gaussian noise (sd 0.3)"},
    {"inpaint", Head::Pixels, 1, "R2", "the whole image from one with a 12 x 12 square blanked"},
    {"edges", Head::Pixels, 1, "R2", "the Sobel edge magnitude per pixel"},
    {"segment", Head::Pixels, 6, "mIoU", "per-pixel labels: background or the coarse group of the object"},
};

const Task& task_named(const std::string& name) {
  for (const auto& t : kTasks)
    if (name == t.name) return t;
  throw_internal("zoo: unknown task " + name);
}

// Coarse groups of the 10 classes: tops (T-shirt, pullover, coat, shirt),
// trousers, dresses, footwear (sandal, sneaker, ankle boot), bags.
const int64_t kCoarse[10] = {0, 1, 0, 2, 0, 3, 0, 3, 4, 3};

at::Tensor normalize(const at::Tensor& raw) { return (raw - kFashionMean) / kFashionStd; }

struct Split {
  at::Tensor input, target;  // input normalized; target per the task
};

// Task `t` on raw images (N x 1 x 28 x 28 in [0, 1]) with their labels.
Split make_split(const Task& t, const at::Tensor& raw, const at::Tensor& labels, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t n = raw.size(0);
  const at::Tensor coarse =
      torch::tensor(std::vector<int64_t>(std::begin(kCoarse), std::end(kCoarse))).index_select(0, labels);
  const std::string name = t.name;
  Split s{normalize(raw), at::Tensor()};
  if (name == "class10") {
    s.target = labels;
  } else if (name == "class5") {
    s.target = coarse;
  } else if (name == "class2") {
    s.target = coarse.ge(3).to(torch::kLong);
  } else if (name == "rotation") {
    const auto k = torch::randint(0, 4, {n}, torch::kLong);
    auto in = s.input.clone();
    for (int64_t r = 1; r < 4; ++r) {
      const auto idx = k.eq(r).nonzero().view(-1);
      in.index_copy_(0, idx, s.input.index_select(0, idx).rot90(r, {2, 3}).contiguous());
    }
    s.input = in, s.target = k;
  } else if (name == "flip") {
    const auto f = torch::randint(0, 2, {n}, torch::kLong);
    s.input = torch::where(f.view({-1, 1, 1, 1}).to(torch::kBool), s.input.flip({2}), s.input);
    s.target = f;
  } else if (name == "autoencode") {
    s.target = raw;
  } else if (name == "denoise") {
    s.input = normalize((raw + 0.3 * torch::randn_like(raw)).clamp(0.0, 1.0));
    s.target = raw;
  } else if (name == "inpaint") {
    const auto r = torch::randint(0, 17, {n, 1}, torch::kLong), c = torch::randint(0, 17, {n, 1}, torch::kLong);
    const auto ax = torch::arange(28, torch::kLong).view({1, 28});
    const auto rows = ax.ge(r).logical_and(ax.lt(r + 12)), cols = ax.ge(c).logical_and(ax.lt(c + 12));
    const auto square = rows.unsqueeze(2).logical_and(cols.unsqueeze(1)).unsqueeze(1);  // N x 1 x 28 x 28
    s.input = normalize(raw.masked_fill(square, 0.0));
    s.target = raw;
  } else if (name == "edges") {
    const auto kx = torch::tensor({-1.0F, 0.0F, 1.0F, -2.0F, 0.0F, 2.0F, -1.0F, 0.0F, 1.0F}).view({1, 1, 3, 3}) / 4.0;
    const auto gx = torch::conv2d(raw, kx, {}, 1, 1), gy = torch::conv2d(raw, kx.transpose(2, 3), {}, 1, 1);
    s.target = (gx * gx + gy * gy).sqrt();
  } else if (name == "segment") {
    s.target = torch::where(raw.squeeze(1).gt(0.1), coarse.view({-1, 1, 1}) + 1, torch::zeros({1}, torch::kLong));
  } else {
    throw_internal("zoo: no data recipe for task " + name);
  }
  return s;
}

at::Tensor task_loss(const Task& t, const at::Tensor& out, const at::Tensor& target) {
  if (t.head == Head::Classes || t.outputs > 1) return torch::cross_entropy_loss(out, target);
  return torch::mse_loss(out, target);
}

// accuracy (classes), mean IoU over the classes present (segment), R2 (other per-pixel tasks).
double task_score(const Task& t, const at::Tensor& out, const at::Tensor& target) {
  if (t.head == Head::Classes) return out.argmax(1).eq(target).to(torch::kDouble).mean().item<double>();
  if (t.outputs > 1) {
    const auto pred = out.argmax(1);
    double sum = 0.0;
    int present = 0;
    for (int64_t c = 0; c < t.outputs; ++c) {
      const auto inter = pred.eq(c).logical_and(target.eq(c)).sum().item<double>();
      const auto uni = pred.eq(c).logical_or(target.eq(c)).sum().item<double>();
      if (uni > 0) sum += inter / uni, ++present;
    }
    return sum / std::max(present, 1);
  }
  const auto t64 = target.to(torch::kDouble), o64 = out.to(torch::kDouble);
  return 1.0 - (o64 - t64).pow(2).sum().item<double>() / (t64 - t64.mean()).pow(2).sum().item<double>();
}

// The shared encoder: 1 x 28 x 28 -> 8 x 7 x 7, a Taskonomy-like spatial code
// whose every position sees 26 x 26 pixels (4 conv 3 x 3, 2 max-pools), as a
// ResNet-50's output sees all of a Taskonomy image.
torch::jit::Module make_encoder(uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module m("TaskEncoder");
  m.register_parameter("e1w", he_normal({16, 1, 3, 3}, 9), false);
  m.register_parameter("e1b", zero_bias(16), false);
  m.register_parameter("e2w", he_normal({32, 16, 3, 3}, 144), false);
  m.register_parameter("e2b", zero_bias(32), false);
  m.register_parameter("e3w", he_normal({32, 32, 3, 3}, 288), false);
  m.register_parameter("e3b", zero_bias(32), false);
  m.register_parameter("e4w", he_normal({32, 32, 3, 3}, 288), false);
  m.register_parameter("e4b", zero_bias(32), false);
  m.register_parameter("e5w", he_normal({8, 32, 1, 1}, 32), false);
  m.register_parameter("e5b", zero_bias(8), false);
  m.define(R"(
def forward(self, x):
    h = torch.max_pool2d(torch.relu(torch.conv2d(x, self.e1w, self.e1b, [1, 1], [1, 1])), [2, 2])
    h = torch.max_pool2d(torch.relu(torch.conv2d(h, self.e2w, self.e2b, [1, 1], [1, 1])), [2, 2])
    h = torch.relu(torch.conv2d(h, self.e3w, self.e3b, [1, 1], [1, 1]))
    h = torch.relu(torch.conv2d(h, self.e4w, self.e4b, [1, 1], [1, 1]))
    return torch.conv2d(h, self.e5w, self.e5b)
)");
  m.register_attribute("input_shape", c10::ListType::ofInts(), c10::IValue(std::vector<int64_t>{1, 28, 28}));
  return m;
}

// A task head on the 8 x 7 x 7 code: an MLP for classes, two transposed
// convolutions and a 3 x 3 convolution for per-pixel outputs.
torch::jit::Module make_head(const Task& t, uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module m(std::string("Head_") + t.name);
  if (t.head == Head::Classes) {
    m.register_parameter("h1w", he_normal({64, 8 * 7 * 7}, 8 * 7 * 7), false);
    m.register_parameter("h1b", zero_bias(64), false);
    m.register_parameter("h2w", he_normal({t.outputs, 64}, 64), false);
    m.register_parameter("h2b", zero_bias(t.outputs), false);
    m.define(R"(
def forward(self, z):
    h = torch.relu(torch.linear(torch.flatten(z, 1), self.h1w, self.h1b))
    return torch.linear(h, self.h2w, self.h2b)
)");
  } else {
    m.register_parameter("d1w", he_normal({8, 16, 2, 2}, 8 * 4), false);
    m.register_parameter("d1b", zero_bias(16), false);
    m.register_parameter("d2w", he_normal({16, 16, 2, 2}, 16 * 4), false);
    m.register_parameter("d2b", zero_bias(16), false);
    m.register_parameter("d3w", he_normal({t.outputs, 16, 3, 3}, 144), false);
    m.register_parameter("d3b", zero_bias(t.outputs), false);
    m.define(R"(
def forward(self, z):
    h = torch.relu(torch.conv_transpose2d(z, self.d1w, self.d1b, [2, 2]))
    h = torch.relu(torch.conv_transpose2d(h, self.d2w, self.d2b, [2, 2]))
    return torch.conv2d(h, self.d3w, self.d3b, [1, 1], [1, 1])
)");
  }
  return m;
}

at::Tensor forward_chunked(torch::jit::Module& m, const at::Tensor& x) {
  torch::NoGradGuard ng;
  m.eval();
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += 1000) parts.push_back(m.forward({x.slice(0, i, i + 1000)}).toTensor());
  return torch::cat(parts);
}

double train_head(torch::jit::Module& net, const Task& t, const Split& train, int epochs, uint64_t seed) {
  return train_loop(net, train.input.size(0), {epochs, 1e-3, 128, seed, false}, {},
                    [&](const at::Tensor& idx, const at::Tensor&) {
                      return task_loss(t, net.forward({train.input.index_select(0, idx)}).toTensor(),
                                       train.target.index_select(0, idx));
                    });
}

struct Images {
  at::Tensor x, y;  // raw in [0, 1], labels
};

struct Sets {
  Images enc, probe, test;
};

Sets load_sets(const TestbedConfig& cfg) {
  Images train, test;
  load_fashion(cfg.data, true, train.x, train.y);
  load_fashion(cfg.data, false, test.x, test.y);
  auto n = [&](int64_t full) {
    return std::max<int64_t>(500, static_cast<int64_t>(static_cast<double>(full) * cfg.scale));
  };
  Sets s;
  s.enc = {train.x.slice(0, 0, n(40000)), train.y.slice(0, 0, n(40000))};
  s.probe = {train.x.slice(0, 40000, 40000 + n(5000)), train.y.slice(0, 40000, 40000 + n(5000))};
  s.test = {test.x.slice(0, 0, n(10000)), test.y.slice(0, 0, n(10000))};
  return s;
}

// A task's seeds derive from its place in kTasks (not in the config's list).
uint64_t task_seed(const std::string& name) { return static_cast<uint64_t>(&task_named(name) - std::begin(kTasks)); }

// Trains task `name`'s encoder with its head; saves the encoder. Returns the
// head's test score. Encoders start from one initialization when `shared_init`
// (an ablation), else from one of their own.
double train_encoder(const std::string& name, const Sets& sets, const ZooFolder& zoo, bool shared_init) {
  const Task& t = task_named(name);
  const uint64_t k = task_seed(name);
  auto enc = make_encoder(shared_init ? 100 : 100 + k);
  torch::jit::Module net("TaskNet");
  net.register_module("enc", enc);
  net.register_module("head", make_head(t, 200 + k));
  net.define("def forward(self, x):\n    return self.head.forward(self.enc.forward(x))\n");
  const Split train = make_split(t, sets.enc.x, sets.enc.y, 300 + k);
  train_head(net, t, train, 3, 400 + k);
  const Split test = make_split(t, sets.test.x, sets.test.y, 500 + k);
  const double score = task_score(t, forward_chunked(net, test.input), test.target);
  zoo.save(enc, name);
  return score;
}

// One row of the transfer: the test loss of every task's probe on encoder `source` (frozen).
std::vector<double> probe_row(const std::string& source, const std::vector<std::string>& tasks, const Sets& sets,
                              const ZooFolder& zoo) {
  auto enc = torch::jit::load(zoo.model(source));
  std::vector<double> row;
  for (const auto& name : tasks) {
    const Task& t = task_named(name);
    const uint64_t k = task_seed(name);
    const Split train = make_split(t, sets.probe.x, sets.probe.y, 600 + k);
    const Split test = make_split(t, sets.test.x, sets.test.y, 500 + k);
    Split code{forward_chunked(enc, train.input), train.target};  // the frozen encoder's code
    auto head = make_head(t, 700 + k);                            // the same start for every source
    train_head(head, t, code, 5, 800 + k);
    torch::NoGradGuard ng;
    row.push_back(task_loss(t, forward_chunked(head, forward_chunked(enc, test.input)), test.target).item<double>());
  }
  return row;
}

}  // namespace

std::vector<std::string> relatedness_tasks() {
  std::vector<std::string> v;
  for (const auto& t : kTasks) v.emplace_back(t.name);
  return v;
}

void run_relatedness_zoo(const TestbedConfig& cfg, const comm::Comm& world, std::ostream& out) {
  // Bump the version when the recipes below change: cached zoos are keyed by it and the config.
  const ZooFolder zoo(cfg.dir, hex64(fnv1a(cfg.text)) + " relatedness recipes 2");
  zoo.prepare(world, out);
  const int rank = world.rank(), ranks = world.size();
  const auto& tasks = cfg.tasks;
  const size_t T = tasks.size();
  const Sets sets = load_sets(cfg);
  const auto t0 = std::chrono::steady_clock::now();
  const auto transfer_file = [&](const std::string& task) { return zoo.models() + "/transfer-" + task + ".txt"; };
  out << std::fixed << std::setprecision(3);
  // 1. One encoder per task (one task per rank at a time).
  comm::collective(world, [&] {
    for (size_t i = static_cast<size_t>(rank); i < T; i += static_cast<size_t>(ranks)) {
      if (zoo.has(tasks[i])) continue;
      std::error_code ec;
      fs::remove(transfer_file(tasks[i]), ec);  // made with an encoder that is gone
      const double score = train_encoder(tasks[i], sets, zoo, cfg.shared_init);
      const Task& t = task_named(tasks[i]);
      out << "zoo: encoder " << std::left << std::setw(11) << tasks[i] << std::right << " test " << t.metric << " "
          << score << "  " << t.what << " (rank " << rank << ", " << seconds_since(t0) << ")" << std::endl;
    }
  });
  // 2. The transfers, one source encoder's row per rank at a time.
  comm::collective(world, [&] {
    for (size_t i = static_cast<size_t>(rank); i < T; i += static_cast<size_t>(ranks)) {
      std::error_code ec;
      if (fs::exists(transfer_file(tasks[i]), ec)) continue;
      const auto row = probe_row(tasks[i], tasks, sets, zoo);
      std::ostringstream text;
      text << std::setprecision(17);
      for (double v : row) text << v << "\n";
      write_text_atomic(transfer_file(tasks[i]), text.str());
      out << "zoo: probes on the frozen " << tasks[i] << " encoder done (rank " << rank << ", " << seconds_since(t0)
          << ")" << std::endl;
    }
  });
  comm::on_root(&world, [&] {  // rank 0 writes; every rank returns once it is done
    std::vector<std::vector<double>> affinity;
    for (const auto& source : tasks) {
      std::istringstream f(read_stored_text(transfer_file(source), "zoo transfer row"));
      std::vector<double> row(T);
      for (auto& v : row) f >> v;
      if (!f || !std::all_of(row.begin(), row.end(), [](double v) { return std::isfinite(v); }))
        throw_input("zoo: " + transfer_file(source) + " does not hold " + std::to_string(T) +
                    " finite losses (remove it to measure that row again)");
      affinity.push_back(row);
    }

    // The table: rows = frozen source encoder, columns = target task.
    out << "zoo: transfer test loss (row: the frozen encoder of that task; column: the task probed; lower is better)\n"
        << std::fixed << std::setprecision(4) << std::setw(12) << "";
    for (const auto& t : tasks) out << std::setw(11) << t;
    out << "\n";
    for (size_t i = 0; i < T; ++i) {
      out << std::left << std::setw(12) << tasks[i] << std::right;
      for (double& v : affinity[i]) out << std::setw(11) << v, v = -v;  // affinity = -loss
      out << "\n";
    }
    YAML::Node field;
    field["target"] = "topk:1";
    field["reduce_channels"] = "mean";
    zoo.write_yaml("run.yaml", testbed_run_config(zoo, tasks, cfg.data, cfg.references, cfg.steps, field, false),
                   "written by modelgif zoo: the relatedness testbed");
    YAML::Node rel;
    rel["tasks"] = yaml_list(tasks);
    for (const auto& row : affinity) {
      std::vector<std::string> cells;
      for (double v : row) cells.push_back(yaml_number(v));
      rel["affinity"].push_back(yaml_list(cells));
    }
    YAML::Node roles;
    roles["relatedness"] = rel;
    zoo.write_yaml("roles.yaml", roles,
                   "affinity[i][j]: minus the test loss on task j of a head trained on task i's frozen encoder");
    // Each column in its own scale (the scores differ by task): a heatmap of
    // every column's rank, 0 = the worst source for that task.
    std::vector<double> ranks_matrix(T * T);
    for (size_t j = 0; j < T; ++j)
      for (size_t i = 0; i < T; ++i) {
        double below = 0;
        for (size_t k = 0; k < T; ++k) below += affinity[k][j] < affinity[i][j] ? 1.0 : 0.0;
        ranks_matrix[i * T + j] = below / static_cast<double>(T - 1);
      }
    const std::string picture = zoo.dir() + "/affinity.svg";
    write_text_atomic(picture,
                      heatmap_svg(tasks, ranks_matrix, "transfer affinity: rank of each source encoder per task"));
    out << "zoo: " << T << " encoders in " << zoo.models() << "; affinity picture " << picture << "\n";
  });
}

}  // namespace modelgif
