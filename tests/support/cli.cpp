#include "support/cli.hpp"

#include <ATen/ATen.h>
#include <gmock/gmock.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "modelgif/cli.hpp"
#include "modelgif/h5.hpp"
#include "run/result_file.hpp"
#include "support/models.hpp"

namespace fs = std::filesystem;
namespace h5 = modelgif::h5;
using ::testing::HasSubstr;

namespace testsupport {

Result run_cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = modelgif::cli::run(args, out, err);
  return {code, out.str(), err.str()};
}

void write_matrix_result(const std::string& path, const std::vector<std::string>& names,
                         const std::vector<std::string>& metrics, const std::vector<std::vector<double>>& matrices) {
  modelgif::ResultWriter w(path);
  modelgif::RunResult r;
  r.names = names, r.metrics = metrics, r.matrices = matrices;
  w.write_matrices("/", r);
  w.commit();
}

std::vector<double> star_matrix(const std::vector<double>& to_first, double elsewhere) {
  const size_t M = to_first.size();
  std::vector<double> m(M * M, elsewhere);
  for (size_t i = 0; i < M; ++i) m[i * M + i] = 0;
  for (size_t i = 1; i < M; ++i) m[i] = m[i * M] = to_first[i];
  return m;
}

void TinyZoo::SetUp() {
  dir = testsupport::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  auto a = testsupport::tanh_cnn(1);
  a.save(dir + "/a.pt");
  testsupport::permuted_copy(a).save(dir + "/a-perm.pt");
  testsupport::tanh_cnn(2).save(dir + "/b.pt");
  testsupport::sqrt_model().save(dir + "/sqrt.pt");
  std::ofstream(dir + "/junk.pt") << "this is not a zip archive";
  testsupport::write_random_refs(dir + "/refs.h5", 7);
  auto f = h5::File::open(dir + "/refs.h5", true);
  const auto x2 = at::randn({7, 2, 8, 8});
  h5::write(f.id(), "/two_channel", h5::Type::F32, {7, 2, 8, 8}, x2.data_ptr());
  f.close();
  config = dir + "/run.yaml";
  std::ofstream(config) << "zoo:\n"
                        << "  - {name: a, path: " << dir << "/a.pt}\n"
                        << "  - {name: a-perm, path: " << dir << "/a-perm.pt}\n"
                        << "  - {name: b, path: " << dir << "/b.pt}\n"
                        << "references:\n  source: " << dir << "/refs.h5:/images\n"
                        << "field:\n  steps: 6\n"
                        << "distance:\n  metrics: [cosine, euclidean, cosine_frechet, euclidean_frechet, "
                           "cosine_standardized]\n"
                        << "output:\n  path: " << dir << "/out/result.h5\n  store_fields: true\n"
                        << "run:\n  block: 3\n  max_points: 10\n";
  output = dir + "/out/result.h5";
}

void TinyZoo::expect_failure(std::vector<std::string> extra, int code, const std::string& needle) {
  std::vector<std::string> args = {"run", "--config", config};
  args.insert(args.end(), extra.begin(), extra.end());
  std::set<fs::path> before;  // what earlier (successful) runs of the test left
  if (fs::exists(dir + "/out"))
    for (const auto& e : fs::directory_iterator(dir + "/out")) before.insert(e.path());
  const Result r = run_cli(args);
  EXPECT_EQ(r.code, code) << r.err;
  EXPECT_THAT(r.err, HasSubstr(needle)) << "error was: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("modelgif: error: ", 0), 0u) << r.err;
  EXPECT_FALSE(fs::exists(output)) << "a failed run left " << output;
  // Nothing new stays but a checkpoint that keeps finished work (field
  // shards): a run refused before any work leaves no checkpoint or lock.
  const auto holds_shards = [](const fs::path& ckpt) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(ckpt / "fields", ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".h5") return true;
    return false;
  };
  if (fs::exists(dir + "/out"))
    for (const auto& e : fs::directory_iterator(dir + "/out"))
      if (!before.count(e.path()) && !(e.path().extension() == ".ckpt" && holds_shards(e.path())))
        ADD_FAILURE() << "leftover " << e.path() << " after a run refused with: " << r.err;
}

}  // namespace testsupport
