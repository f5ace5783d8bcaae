// The CLI in-process, and a tiny zoo to run it on (tests/unit).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace testsupport {

struct Result {
  int code;
  std::string out, err;
};

// modelgif's CLI in this process.
Result run_cli(const std::vector<std::string>& args);

// A result file at `path` that holds only the zoo's `names` and one M x M
// distance matrix per metric: what `eval` reads, for distances chosen by hand.
void write_matrix_result(const std::string& path, const std::vector<std::string>& names,
                         const std::vector<std::string>& metrics, const std::vector<std::vector<double>>& matrices);
// An M x M matrix with `to_first[i]` between model 0 and model i and
// `elsewhere` between every other pair (0 on the diagonal).
std::vector<double> star_matrix(const std::vector<double>& to_first, double elsewhere = 0.5);

// A tiny zoo (two functions, one a channel-permuted copy, and an independent
// one) on 7 references of 1 x 8 x 8, with config DIR/run.yaml writing
// DIR/out/result.h5; also DIR/sqrt.pt (NaN fields), DIR/junk.pt (not TorchScript)
// and DIR/refs.h5:/two_channel (references no model accepts).
class TinyZoo : public ::testing::Test {
 protected:
  void SetUp() override;
  // Runs and checks the failure contract: exit code, one line naming `needle`, no output left.
  void expect_failure(std::vector<std::string> extra, int code, const std::string& needle);
  std::string dir, config, output;
};

}  // namespace testsupport
