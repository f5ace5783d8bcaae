#include "bench/zoos.hpp"

#include <torch/script.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>

#include "base/files.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "testbeds/train.hpp"

namespace fs = std::filesystem;

namespace modelgif::bench {
namespace {

// One encoder 3x128x128 -> 8x16x16 of the Taskonomy-shaped zoo, its weights
// drawn after seeding LibTorch with `seed`.
torch::jit::Module make_encoder(uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module m("Encoder");
  const auto conv = [&](const std::string& w, int64_t o, int64_t c) {
    m.register_parameter(w + "w", torch::randn({o, c, 3, 3}) * std::sqrt(2.0 / (9.0 * static_cast<double>(c))), false);
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
  return m;
}

}  // namespace

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

void save_taskonomy_zoo(const std::string& dir, int count, int refs, std::ostream& out) {
  ensure_dir(dir, "--save-taskonomy");
  std::ostringstream yaml;
  yaml << "# written by modelgif-bench --save-taskonomy: " << count << " encoders 3x128x128 -> 8x16x16, " << refs
       << " references\nzoo:\n";
  for (int i = 0; i < count; ++i) {
    const std::string name = "encoder-" + std::to_string(i), path = dir + "/" + name + ".pt";
    if (fs::exists(path)) throw_input("--save-taskonomy: " + path + " exists (give an empty folder)");
    make_encoder(1000 + static_cast<uint64_t>(i)).save(path);
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

}  // namespace modelgif::bench
