#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "modelgif/cli.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/references.hpp"
#include "run/result_file.hpp"
#include "support/cli.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using testsupport::Result;
using testsupport::run_cli;
using testsupport::TinyZoo;

TEST(Cli, HelpForEveryCommandAndUsageErrors) {
  const Result top = run_cli({"--help"});
  EXPECT_EQ(top.code, 0);
  ASSERT_GE(cli::command_names().size(), 10u);
  for (const auto& cmd : cli::command_names()) {
    EXPECT_THAT(top.out, HasSubstr("  " + cmd + " ")) << cmd;
    const Result h = run_cli({cmd, "--help"});
    EXPECT_EQ(h.code, 0) << cmd;
    EXPECT_THAT(h.out, ::testing::StartsWith("usage: ")) << h.out;
    EXPECT_THAT(h.out, HasSubstr("modelgif " + cmd + " ")) << h.out;
  }
  const Result run_help = run_cli({"run", "--help"});
  for (const auto& k : config_keys()) EXPECT_THAT(run_help.out, HasSubstr("--" + k.key)) << k.key;
  EXPECT_EQ(run_cli({"frobnicate"}).code, kExitUsage);
  EXPECT_EQ(run_cli({}).code, kExitUsage);
  EXPECT_EQ(run_cli({"show"}).code, kExitUsage);
  const Result missing = run_cli({"show", "/nonexistent.h5"});
  EXPECT_EQ(missing.code, kExitInput);
  EXPECT_THAT(missing.err, HasSubstr("/nonexistent.h5"));
  EXPECT_THAT(run_cli({"--version"}).out, HasSubstr("modelgif "));
}

TEST(Cli, ErrorLineKeepsTheInformativeLineOfALibTorchError) {
  EXPECT_EQ(error_line("\nboom: shape [2] is wrong\nException raised from f at x.cpp:3\nframe #0"),
            "boom: shape [2] is wrong");
  EXPECT_EQ(error_line("The following operation failed in the TorchScript interpreter.\nTraceback:\n  File \"code\"\n"
                       "RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)\n"),
            "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)");
  EXPECT_EQ(error_line("The following operation failed in the TorchScript interpreter.\nTraceback:\n"
                       "    IndexError: index 7 is out of bounds for dimension 0 with size 3\n"),
            "IndexError: index 7 is out of bounds for dimension 0 with size 3");
  EXPECT_EQ(error_line(""), "unknown error");
}

namespace {

// The one-line contract of a failure: "modelgif: error: ..." naming `needle`, and its exit code.
void expect_one_line(const std::vector<std::string>& args, int code, const std::string& needle) {
  const Result r = run_cli(args);
  EXPECT_EQ(r.code, code) << args[0] << ": " << r.err;
  EXPECT_THAT(r.err, ::testing::StartsWith("modelgif: error: ")) << args[0];
  EXPECT_THAT(r.err, HasSubstr(needle)) << args[0];
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args[0] << ": " << r.err;
}

}  // namespace

// Every subcommand driven into a file system failure (a loop of links, a
// folder below a plain file) reports it in one line with the path and its
// exit code: no std::filesystem_error, stream failure or library exception
// escapes as an internal error or a backtrace.
TEST(Cli, EverySubcommandTurnsFileSystemFailuresIntoOneLine) {
  const std::string dir = testsupport::temp_dir("cli-fs");
  const std::string loop = dir + "/loop", file = dir + "/plain";
  fs::create_symlink(loop, loop);
  std::ofstream(file) << "x";
  const std::string base = dir + "/base.yaml";
  std::ofstream(base) << "zoo: [{name: a, path: a.pt}]\nreferences: {source: r.h5:/x}\noutput: {path: " << file
                      << "/sub/out.h5}\n";
  const std::string loop_text = "Too many levels of symbolic links";
  expect_one_line({"run", "--config", loop}, kExitUsage, loop_text);
  expect_one_line({"show", loop}, kExitInput, loop_text);
  expect_one_line({"status", loop}, kExitInput, loop);
  expect_one_line({"compare", loop, loop}, kExitInput, loop_text);
  expect_one_line({"eval", loop, "--roles", base}, kExitInput, loop_text);
  std::ofstream(dir + "/zoo.yaml") << "testbed: unlearning\ndir: " << file
                                   << "/zoo\ncounts: {direct: 1, approximate: 1, "
                                   << "unrelated: 1}\n";
  const bool fashion = fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
  expect_one_line({"zoo", dir + "/zoo.yaml"}, kExitInput, fashion ? file + "/zoo" : "no Fashion-MNIST");
  std::ofstream(dir + "/sweep.yaml") << "sweep: {base: " << base << ", dir: " << file << "/sweep}\n"
                                     << "variations: [{name: x, set: {}}]\n";
  expect_one_line({"sweep", "collect", dir + "/sweep.yaml"}, kExitInput, file + "/sweep");
  expect_one_line({"submit", base}, kExitInput, file + "/sub/out.h5.sbatch");
  expect_one_line({"demo", "--dir", file + "/demo"}, kExitInput, fashion ? file + "/demo" : "no Fashion-MNIST");
}

// The last line of defence: any exception becomes one line and an exit code.
TEST(Cli, AnyExceptionBecomesOneLineWithItsExitCode) {
  const auto report = [](auto&& thrower) {
    try {
      thrower();
    } catch (...) {
      return report_of(std::current_exception());
    }
    return ErrorReport{};
  };
  const ErrorReport fs_error = report([] {
    throw fs::filesystem_error("cannot create directories", fs::path("/a/b"),
                               std::make_error_code(std::errc::not_a_directory));
  });
  EXPECT_EQ(fs_error.exit_code, kExitInput);
  EXPECT_EQ(fs_error.message, "Not a directory: /a/b");
  const ErrorReport torch_error = report([] { at::ones({2, 3}).view({7}); });
  EXPECT_EQ(torch_error.exit_code, kExitInternal);
  EXPECT_THAT(torch_error.message, ::testing::StartsWith("internal error: shape '[7]' is invalid"));
  EXPECT_EQ(torch_error.message.find('\n'), std::string::npos);
  const ErrorReport memory = report([] { throw std::bad_alloc(); });
  EXPECT_EQ(memory.exit_code, kExitInput);
  EXPECT_THAT(memory.message, HasSubstr("out of memory"));
  const ErrorReport shared = report([] { throw_shared(InputError("x")); });
  EXPECT_TRUE(shared.shared);
  EXPECT_EQ(shared.exit_code, kExitInput);
  EXPECT_EQ(report([] { throw_shared(kExitNumeric, "nan"); }).exit_code, kExitNumeric);
  EXPECT_EQ(report([] { throw_internal("broken"); }).message, "internal error: broken");
}
