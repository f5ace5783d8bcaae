#include "support/models.hpp"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "modelgif/h5.hpp"

namespace testsupport {

namespace {
const char* const kTanhCnnForward = R"(
def forward(self, x):
    h = torch.tanh(torch.conv2d(x, self.c1w, self.c1b, [1, 1], [1, 1]))
    h = torch.tanh(torch.conv2d(h, self.c2w, self.c2b, [1, 1], [1, 1]))
    return torch.linear(torch.flatten(h, 1), self.fw, self.fb)
)";
}  // namespace

torch::jit::Module linear_model(const at::Tensor& a) {
  torch::jit::Module m("Linear");
  m.register_parameter("a", a.clone(), false);
  m.define(R"(
def forward(self, x):
    return torch.sum(torch.flatten(x * self.a, 1), 1, keepdim=True)
)");
  return m;
}

torch::jit::Module tanh_cnn(uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module m("TanhCNN");
  m.register_parameter("c1w", torch::randn({4, 1, 3, 3}) * 0.5, false);
  m.register_parameter("c1b", torch::randn({4}) * 0.1, false);
  m.register_parameter("c2w", torch::randn({6, 4, 3, 3}) * 0.3, false);
  m.register_parameter("c2b", torch::randn({6}) * 0.1, false);
  m.register_parameter("fw", torch::randn({3, 6 * 8 * 8}) * 0.3, false);
  m.register_parameter("fb", torch::randn({3}) * 0.1, false);
  m.define(kTanhCnnForward);
  return m;
}

torch::jit::Module smooth_resnet(uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module m("SmoothResNet");
  const auto conv_bn = [&m](const std::string& name, int64_t in, int64_t out) {
    m.register_parameter(name + "w", torch::randn({out, in, 3, 3}) * (1.0 / std::sqrt(9.0 * in)), false);
    m.register_parameter(name + "g", 1 + 0.1 * torch::randn({out}), false);
    m.register_parameter(name + "b", 0.1 * torch::randn({out}), false);
    m.register_buffer(name + "m", 0.1 * torch::randn({out}));
    m.register_buffer(name + "v", 0.5 + torch::rand({out}));
  };
  conv_bn("s", 1, 8), conv_bn("r1", 8, 8), conv_bn("r2", 8, 8), conv_bn("d", 8, 16);
  m.register_parameter("fw", torch::randn({3, 16}) * 0.3, false);
  m.register_parameter("fb", torch::randn({3}) * 0.1, false);
  m.define(R"(
def cbn(self, x, w, g, b, m, v, stride: int):
    h = torch.conv2d(x, w, None, [stride, stride], [1, 1])
    return torch.batch_norm(h, g, b, m, v, False, 0.1, 1e-5, False)

def forward(self, x):
    h = torch.tanh(self.cbn(x, self.sw, self.sg, self.sb, self.sm, self.sv, 1))
    r = torch.tanh(self.cbn(h, self.r1w, self.r1g, self.r1b, self.r1m, self.r1v, 1))
    h = torch.tanh(h + self.cbn(r, self.r2w, self.r2g, self.r2b, self.r2m, self.r2v, 1))
    h = torch.tanh(self.cbn(h, self.dw, self.dg, self.db, self.dm, self.dv, 2))
    return torch.linear(torch.mean(torch.avg_pool2d(h, [2, 2]), [2, 3]), self.fw, self.fb)
)");
  return m;
}

torch::jit::Module permuted_copy(torch::jit::Module& cnn) {
  const auto perm = torch::tensor({2, 0, 3, 1}, torch::kLong);
  torch::jit::Module m("TanhCNN");
  m.register_parameter("c1w", cnn.attr("c1w").toTensor().index_select(0, perm), false);
  m.register_parameter("c1b", cnn.attr("c1b").toTensor().index_select(0, perm), false);
  m.register_parameter("c2w", cnn.attr("c2w").toTensor().index_select(1, perm), false);
  m.register_parameter("c2b", cnn.attr("c2b").toTensor().clone(), false);
  m.register_parameter("fw", cnn.attr("fw").toTensor().clone(), false);
  m.register_parameter("fb", cnn.attr("fb").toTensor().clone(), false);
  m.define(kTanhCnnForward);
  return m;
}

torch::jit::Module dense_model(uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module m("Dense");
  m.register_parameter("w", torch::randn({3, 1, 3, 3}), false);
  m.define(R"(
def forward(self, x):
    return torch.tanh(torch.conv2d(x, self.w, None, [1, 1], [1, 1]))
)");
  return m;
}

torch::jit::Module sqrt_model() {
  torch::jit::Module m("Sqrt");
  m.define(R"(
def forward(self, x):
    return torch.sum(torch.flatten(torch.sqrt(x), 1), 1, keepdim=True)
)");
  return m;
}

modelgif::ModelFn fn_of(torch::jit::Module& m) {
  m.eval();
  for (auto p : m.parameters()) p.requires_grad_(false);
  return [&m](const at::Tensor& x) { return m.forward({x}).toTensor(); };
}

std::string write_random_refs(const std::string& file, int64_t n) {
  at::manual_seed(0);
  const auto x = at::randn({n, 1, 8, 8});
  auto f = modelgif::h5::File::create(file);
  modelgif::h5::write(f.id(), "/images", modelgif::h5::Type::F32, {static_cast<hsize_t>(n), 1, 8, 8}, x.data_ptr());
  f.close();
  return file + ":/images";
}

namespace {
// Removes every folder temp_dir made when the test program ends.
struct TempDirs {
  std::vector<std::filesystem::path> made;
  ~TempDirs() {
    std::error_code ec;
    for (const auto& p : made) std::filesystem::remove_all(p, ec);
  }
};
TempDirs& temp_dirs() {
  static TempDirs dirs;
  return dirs;
}
}  // namespace

std::string temp_dir(const std::string& name) {
  // The pid keeps tests that ctest runs at the same time apart.
  const auto p = std::filesystem::temp_directory_path() / ("modelgif-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  temp_dirs().made.push_back(p);
  return p.string();
}

void save_viewer(const std::string& path) {
  torch::jit::Module m("Viewer");
  m.register_parameter("c", at::randn({4, 1, 3, 3}), false);
  m.register_parameter("d", at::randn({4, 4, 3, 3}), false);
  m.define(R"(
def forward(self, x):
    h = torch.tanh(torch.conv2d(x, self.c, None, [1, 1], [1, 1]))
    h = torch.conv2d(h, self.d, None, [1, 1], [1, 1])
    return h.view(h.size(0), -1)
)");
  m.save(path);
}

}  // namespace testsupport
