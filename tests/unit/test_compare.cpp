// `modelgif compare` (analysis/compare.hpp): numpy.allclose's rule with an
// atol on each metric's own scale, and the pair that decided.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/compare.hpp"
#include "modelgif/error.hpp"
#include "run/result_file.hpp"
#include "support/cli.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

namespace {

// A result of three models with the given cosine distances d(a,b), d(a,c), d(b,c).
std::string result(const std::string& dir, const std::string& name, double ab, double ac, double bc) {
  const std::string path = dir + "/" + name + ".h5";
  ResultWriter w(path);
  RunResult r;
  r.names = {"a", "b", "c"};
  r.metrics = {"cosine"};
  r.matrices = {{0, ab, ac, ab, 0, bc, ac, bc, 0}};
  w.write_matrices("/", r);
  w.commit();
  return path;
}

// The same three models with stored fields (4 references x 2 steps x 3
// features, float32), `f` giving model m's value at (reference, step, feature).
template <typename F>
std::string result_with_fields(const std::string& dir, const std::string& name, F f) {
  const std::string path = dir + "/" + name + ".h5";
  ResultWriter w(path);
  RunResult r;
  r.names = {"a", "b", "c"};
  r.metrics = {"cosine"};
  r.matrices = {{0, 0.1, 0.8, 0.1, 0, 0.8, 0.8, 0.8, 0}};
  w.write_matrices("/", r);
  w.create_fields(r.names, 4, 2, 3, false);
  for (int m = 0; m < 3; ++m) {
    at::Tensor block = at::empty({4, 2, 3}, at::kFloat);
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 2; ++k)
        for (int d = 0; d < 3; ++d) block[i][k][d] = f(m, i, k, d);
    w.write_field_block(r.names[static_cast<size_t>(m)], 0, block);
  }
  w.commit();
  return path;
}

}  // namespace

// Fields: the largest difference against the largest value, and how many
// references it is confined to (a kink crossed at one path point differs in
// one reference; rounding is spread over all of them).
TEST(Compare, FieldsSayHowManyReferencesDiffer) {
  const std::string dir = testsupport::temp_dir("compare-fields");
  const auto value = [](int m, int i, int k, int d) { return 1.0f + 0.5f * m + 0.25f * i + 0.125f * k + 0.0625f * d; };
  const std::string base = result_with_fields(dir, "base", value);
  // Model b: reference 2 off by 1e-3 of its largest value (2.5), the others by 1e-6 of it.
  const std::string kink = result_with_fields(dir, "kink", [&](int m, int i, int k, int d) {
    const float v = value(m, i, k, d);
    return m != 1 ? v : v + (i == 2 && k == 1 ? 2.5e-3f : 2.5e-6f);
  });
  Tolerance tol;
  tol.rtol = 1e-4;
  const Comparison c = compare_results(kink, base, tol);
  ASSERT_EQ(c.fields.size(), 3u);
  EXPECT_TRUE(c.fields[0].same);
  EXPECT_EQ(c.fields[0].largest, 0.0);
  const FieldComparison& b = c.fields[1];
  EXPECT_FALSE(b.same);
  EXPECT_EQ(b.references, 4);
  EXPECT_EQ(b.beyond, 1);
  EXPECT_NEAR(b.largest, 1e-3, 1e-6);
  EXPECT_NEAR(b.median, 1e-6, 2e-7);  // within float32 rounding of the offsets
  EXPECT_FALSE(c.same);
  EXPECT_THAT(format_comparison(c, tol), HasSubstr("fields of b: largest difference 0.001 of the largest value, "
                                                   "beyond 0.0001 in 1 of 4 references (median reference 1"))
      << format_comparison(c, tol);
}

// Rounding of the fields (about 1e-7 of their largest value) moves an
// equivalent pair's tiny distance by several percent of itself: not a
// difference on the matrix's scale. A real change is one, named by its pair.
TEST(Compare, JudgesLikeAllcloseOnTheMetricsScale) {
  const std::string dir = testsupport::temp_dir("compare");
  const std::string base = result(dir, "base", 8.1e-9, 0.83, 0.84);
  const std::string rounded = result(dir, "rounded", 8.7e-9, 0.83 + 3e-8, 0.84 - 2e-8);  // 7 % on a-b
  const Tolerance tol;
  const Comparison same = compare_results(rounded, base, tol);
  EXPECT_TRUE(same.same);
  ASSERT_EQ(same.metrics.size(), 1u);
  EXPECT_NEAR(same.metrics[0].atol, 1e-6 * 0.84, 1e-18);
  EXPECT_NEAR(same.metrics[0].largest_rel, 0.6e-9 / 8.7e-9, 1e-6);
  EXPECT_EQ(same.metrics[0].model_a, "a");  // the closest call: a-c (3e-8 of ~1.7e-6 allowed)
  EXPECT_EQ(same.metrics[0].model_b, "c");
  EXPECT_THAT(format_comparison(same, tol), HasSubstr("same within rtol 1e-06, atol 1e-06 x each metric's largest"));
  // The relative rule alone (atol 0) calls the rounding a difference, on the tiny pair.
  Tolerance strict;
  strict.atol = 0.0;
  const Comparison rel = compare_results(rounded, base, strict);
  EXPECT_FALSE(rel.same);
  EXPECT_EQ(rel.metrics[0].model_a + rel.metrics[0].model_b, "ab");
  EXPECT_GT(rel.metrics[0].share, 1.0);
  // A change of 1e-5 on a distance of 0.84 is a difference, and says where.
  const std::string moved = result(dir, "moved", 8.1e-9, 0.83, 0.84 + 1e-5);
  const Comparison diff = compare_results(moved, base, tol);
  EXPECT_FALSE(diff.same);
  EXPECT_EQ(diff.metrics[0].model_a + diff.metrics[0].model_b, "bc");
  const std::string text = format_comparison(diff, tol);
  EXPECT_THAT(text, HasSubstr("closest call (b, c): 0.84001 vs 0.84")) << text;
  EXPECT_THAT(text, HasSubstr("DIFFERENT beyond rtol 1e-06")) << text;
  // A NaN is never the same as a number.
  const std::string nan = result(dir, "nan", std::nan(""), 0.83, 0.84);
  EXPECT_FALSE(compare_results(nan, base, tol).same);
}

// The command: exit codes and the two results of one config on other ranks agree.
TEST(Compare, CommandExitCodes) {
  const std::string dir = testsupport::temp_dir("compare-cli");
  const std::string base = result(dir, "base", 0.1, 0.83, 0.84);
  const std::string moved = result(dir, "moved", 0.1, 0.83, 0.85);
  EXPECT_EQ(testsupport::run_cli({"compare", base, base}).code, 0);
  const auto differ = testsupport::run_cli({"compare", moved, base});
  EXPECT_EQ(differ.code, kExitDifferent) << differ.out;
  EXPECT_EQ(testsupport::run_cli({"compare", moved, base, "--atol", "0.02"}).code, 0);
  const auto bad = testsupport::run_cli({"compare", moved, base, "--atol", "-1"});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr("--atol must be >= 0"));
}
