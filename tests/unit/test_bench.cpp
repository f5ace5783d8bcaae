// modelgif-bench (src/bench/): its command line, the zoos it writes, and the
// helpers it measures with.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "bench/measure.hpp"
#include "modelgif/bench.hpp"
#include "modelgif/error.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

struct Outcome {
  int code;
  std::string out, err;
};
Outcome run_bench(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = bench::run(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST(Bench, HelpDescribesTheVariants) {
  const Outcome h = run_bench({"--help"});
  EXPECT_EQ(h.code, 0);
  EXPECT_THAT(h.out, ::testing::StartsWith("usage: modelgif-bench [options]\n"));
  EXPECT_THAT(h.out, HasSubstr("points/s"));
  for (const char* option : {"--model", "--threads", "--refs", "--steps", "--max-points", "--rounds", "--max-rounds",
                             "--save-zoo", "--zoo-size", "--save-taskonomy", "--published-child"})
    EXPECT_THAT(h.out, HasSubstr(option)) << option;
}

TEST(Bench, UsageErrorsAreOneLine) {
  const Outcome refs = run_bench({"--refs", "-1"});
  EXPECT_EQ(refs.code, kExitUsage);
  EXPECT_EQ(refs.err, "modelgif-bench: error: --refs must be >= 1\n");
  const Outcome unknown = run_bench({"--max-round", "3"});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_EQ(unknown.err, "modelgif-bench: error: unknown option '--max-round' (did you mean '--max-rounds'?)\n");
  const Outcome arch = run_bench({"--model", "nope"});
  EXPECT_EQ(arch.code, kExitUsage);
  EXPECT_THAT(arch.err, ::testing::StartsWith("modelgif-bench: error: unknown architecture 'nope'"));
  EXPECT_EQ(run_bench({"--save-zoo", "/nonexistent", "--zoo-size", "0"}).err,
            "modelgif-bench: error: --zoo-size must be >= 1\n");
}

TEST(Bench, SavesATaskonomyShapedZooWithItsRunConfig) {
  const std::string dir = testsupport::temp_dir("bench-taskonomy") + "/zoo";
  const Outcome r = run_bench({"--save-taskonomy", dir, "--zoo-size", "2", "--refs", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote 2 encoders, 3 references and " + dir + "/run.yaml\n");
  for (const char* f : {"encoder-0.pt", "encoder-1.pt", "refs.h5", "run.yaml"}) EXPECT_TRUE(fs::exists(dir + "/" + f));
  // A second time into the same folder: refused, nothing overwritten.
  const Outcome again = run_bench({"--save-taskonomy", dir, "--zoo-size", "2", "--refs", "3"});
  EXPECT_EQ(again.code, kExitInput);
  EXPECT_THAT(again.err, HasSubstr("encoder-0.pt exists"));
}

// conv(1->4, 3x3) tanh conv(4->6, 3x3) tanh linear(384 -> 3) on 1 x 8 x 8:
// each layer once (conv2d, not the convolution ops it calls), with its FLOP.
TEST(Bench, RecordsEachLayerOnceWithItsFlops) {
  auto cnn = testsupport::tanh_cnn(3);
  const auto fn = testsupport::fn_of(cnn);
  const std::vector<bench::Layer> layers = bench::record_layers(fn, at::rand({1, 1, 8, 8}));
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].op, "aten::conv2d");
  EXPECT_EQ(layers[1].op, "aten::conv2d");
  EXPECT_EQ(layers[2].op, "aten::linear");
  EXPECT_EQ(layers[1].weight, (std::vector<int64_t>{6, 4, 3, 3}));
  EXPECT_EQ(layers[1].padding, (std::vector<int64_t>{1, 1}));
  EXPECT_DOUBLE_EQ(layers[0].flops, 2.0 * 64 * 36);
  EXPECT_DOUBLE_EQ(layers[1].flops, 2.0 * 64 * 216);
  EXPECT_DOUBLE_EQ(layers[2].flops, 2.0 * 3 * 384);
  EXPECT_DOUBLE_EQ(bench::total_flops(layers, true), 2.0 * 64 * 252);
  // A second recording starts afresh: the first one's callback is gone.
  fn(at::rand({1, 1, 8, 8}));
  EXPECT_EQ(bench::record_layers(fn, at::rand({1, 1, 8, 8})).size(), 3u);
  const bench::ConvSet convs = bench::make_convs(layers, 2, Numerics{});
  ASSERT_EQ(convs.layers.size(), 2u);
  EXPECT_EQ(convs.inputs[1].first.sizes().vec(), (std::vector<int64_t>{2, 4, 8, 8}));
  EXPECT_GT(bench::time_convs(convs), 0);
}

// y = sum(a * x): the published loop's last cumulative step is a * (x - b).
TEST(Bench, PublishedLoopIntegratesTheGradient) {
  const at::Tensor a = at::randn({1, 4, 4});
  auto linear = testsupport::linear_model(a);
  const at::Tensor x = at::randn({3, 1, 4, 4}), b = at::zeros_like(x);
  FieldSpec spec;
  spec.steps = 6;
  const at::Tensor F = bench::published_loop(testsupport::fn_of(linear), x, b, spec);
  ASSERT_EQ(F.sizes().vec(), (std::vector<int64_t>{3, 6, 16}));
  EXPECT_LT((F.select(1, 5) - (a * x).reshape({3, 16})).abs().max().item<double>(), 1e-5);
}

TEST(Bench, StatisticsOfTheRounds) {
  EXPECT_EQ(bench::median({3, 1, 2}), 2);
  EXPECT_EQ(bench::median({4, 1, 2, 3}), 2.5);
  EXPECT_EQ(bench::spread({1, 4, 2}, 1), "2.0 [1.0, 4.0]");
  EXPECT_EQ(bench::ratios({2, 9}, {1, 3}), (std::vector<double>{2, 3}));
  const bench::Series flat{"flat", {5, 5, 5, 5}}, moving{"moving", {1, 2, 3, 4}};
  EXPECT_TRUE(bench::stable({flat}, 3, 0.02));
  EXPECT_FALSE(bench::stable({flat, moving}, 3, 0.02));
  EXPECT_FALSE(bench::stable({bench::Series{"short", {5, 5, 5}}}, 3, 0.02));
}
