// Nothing silent, nothing overwritten, nothing lost: what a run does with
// damaged checkpoint files, with an output that is one of its inputs, with a
// second run on the same output, with the temporaries of interrupted runs,
// and with inputs that can only fail late (all found before any field work).
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/hash.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/result.hpp"
#include "run/lock.hpp"
#include "run/store.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using testsupport::Result;
using testsupport::run_cli;
namespace fs = std::filesystem;

class Refusals : public testsupport::TinyZoo {};
class CheckpointFaults : public testsupport::TinyZoo {};

namespace {

// Flips one bit of the first stored copy of `value` in a file.
void flip_double(const std::string& path, double value) {
  std::string bytes = testsupport::read_text(path);
  const size_t at = bytes.find(std::string(reinterpret_cast<const char*>(&value), sizeof value));
  ASSERT_NE(at, std::string::npos) << value << " is not stored as such in " << path;
  bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

double max_relative_difference(const RunResult& a, const RunResult& b) {
  double worst = 0;
  for (size_t i = 0; i < a.matrices.size(); ++i)
    for (size_t j = 0; j < a.matrices[i].size(); ++j)
      worst = std::max(worst,
                       std::fabs(a.matrices[i][j] - b.matrices[i][j]) / std::max(1e-300, std::fabs(a.matrices[i][j])));
  return worst;
}

}  // namespace

TEST_F(CheckpointFaults, ADamagedPairCacheIsReportedAndItsPairsComputedAgain) {
  ASSERT_EQ(run_cli({"run", "--config", config}).code, 0);
  const RunResult truth = read_result(output);
  const CheckpointStore store(output + ".ckpt");
  const std::string cache = store.sums_path(SumKind::Plain, 1);
  const auto before =
      store.read_sums(SumKind::Plain, 1, h5::get_attr_string(h5::File::open(output).id(), "/", "fingerprint"));
  ASSERT_TRUE(before);
  // One bit of one pair sum: the checksum catches it, the pairs are computed again.
  fs::remove(output);
  flip_double(cache, before->sum(0, 0, 1));
  Result r = run_cli({"run", "--config", config});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("pair sums " + cache + " are not used (checksum mismatch): its pairs are computed again"));
  EXPECT_EQ(max_relative_difference(truth, read_result(output)), 0.0);
  // The file cut short: unreadable, computed again too.
  fs::remove(output);
  fs::resize_file(cache, 2000);
  r = run_cli({"run", "--config", config});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pair sums " + cache + " are not used ("));
  EXPECT_EQ(max_relative_difference(truth, read_result(output)), 0.0);
}

TEST_F(Refusals, ANonFiniteBaselineOrScaleIsAConfigError) {
  expect_failure({"--field.baseline", "constant:nan"}, kExitUsage,
                 "key 'field.baseline': constant:V needs a finite float32");
  expect_failure({"--field.baseline", "constant:inf"}, kExitUsage, "key 'field.baseline'");
  expect_failure({"--field.baseline", "constant:1e39"}, kExitUsage, "needs a finite float32 value V, got '1e39'");
  expect_failure({"--references.scale", ".nan"}, kExitUsage, "key 'references.scale': must be a finite number");
  expect_failure({"--references.shift", "-.inf"}, kExitUsage, "key 'references.shift': must be a finite number");
}

TEST_F(Refusals, Float16FieldsThatWouldOverflowAreRefusedBeforeTheFileIsMade) {
  // A linear model's field is a * x: with x scaled by 1e8 it leaves float16's range.
  testsupport::linear_model(at::full({1, 8, 8}, 2.0)).save(dir + "/linear.pt");
  const std::vector<std::string> zoo = {
      "--zoo", "lin=" + dir + "/linear.pt", "--zoo", "a=" + dir + "/a.pt", "--references.scale", "1e8"};
  std::vector<std::string> half = zoo;
  half.insert(half.end(), {"--output.field_dtype", "float16"});
  expect_failure(half, kExitInput, "output.field_dtype float16 cannot hold the fields of model 'lin'");
  // The fields are kept: float32 writes the result without computing anything again.
  std::vector<std::string> args = {"run", "--config", config};
  args.insert(args.end(), zoo.begin(), zoo.end());
  const Result r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 of 6 (model, block) pieces computed, 6 reused"));
}

TEST_F(Refusals, AnOutputThatIsAnInputOfTheRunIsRefused) {
  const std::string model_hash = hash_file(dir + "/a.pt"), refs_hash = hash_file(dir + "/refs.h5");
  expect_failure({"--output.path", dir + "/a.pt"}, kExitInput, "is model 'a' (" + dir + "/a.pt)");
  fs::create_symlink(dir + "/refs.h5", dir + "/link.h5");
  expect_failure({"--output.path", dir + "/link.h5"}, kExitInput, "is references.source");
  expect_failure({"--output.path", config}, kExitInput, "is the config");
  fs::create_directories(dir + "/x.h5.ckpt");
  fs::copy_file(dir + "/b.pt", dir + "/x.h5.ckpt/b.pt");
  const Result inside = run_cli({"run", "--config", config, "--output.path", dir + "/x.h5", "--zoo",
                                 "a=" + dir + "/a.pt", "--zoo", "b=" + dir + "/x.h5.ckpt/b.pt"});
  EXPECT_EQ(inside.code, kExitInput);
  EXPECT_THAT(inside.err, HasSubstr("lies inside the run's checkpoint " + dir + "/x.h5.ckpt"));
  EXPECT_EQ(hash_file(dir + "/a.pt"), model_hash);
  EXPECT_EQ(hash_file(dir + "/refs.h5"), refs_hash);
}

TEST_F(Refusals, AFolderAsOutputIsRefusedBeforeAnyWork) {
  expect_failure({"--output.path", dir + "/out/"}, kExitInput, "is a folder: give a file name");
  EXPECT_FALSE(fs::exists(dir + "/out/.ckpt")) << "a hidden checkpoint was left";
  fs::create_directories(dir + "/out/folder.h5");
  const Result r = run_cli({"run", "--config", config, "--output.path", dir + "/out/folder.h5"});
  EXPECT_EQ(r.code, kExitInput);
  EXPECT_THAT(r.err, HasSubstr("output.path " + dir + "/out/folder.h5 is a folder"));
  EXPECT_FALSE(fs::exists(dir + "/out/folder.h5.ckpt"));
}

TEST_F(Refusals, OutOfRangeLabelsAreFoundBeforeAnyField) {
  auto f = h5::File::open(dir + "/refs.h5", true);
  const std::vector<int64_t> labels = {0, 1, 2, 0, 1, 2, 7};  // the models have 3 outputs
  h5::write(f.id(), "/labels", h5::Type::I64, {7}, labels.data());
  f.close();
  expect_failure({"--references.labels", dir + "/refs.h5:/labels", "--field.target", "label"}, kExitInput,
                 "references.labels: reference 6 has label 7, out of range for model 'a' with 3 classes");
  EXPECT_FALSE(fs::exists(output + ".ckpt/fields")) << "fields were computed before the labels were checked";
}

TEST_F(Refusals, NoReferencesIsRefusedUpFront) {
  auto f = h5::File::open(dir + "/refs.h5", true);
  h5::write(f.id(), "/none", h5::Type::F32, {0, 1, 8, 8}, nullptr);
  f.close();
  expect_failure({"--references.source", dir + "/refs.h5:/none"}, kExitInput,
                 "no references (the source holds no images)");
}

TEST_F(Refusals, ModelNamesAreOnePrintableLine) {
  expect_failure({"--zoo", std::string("bad\nname=") + dir + "/a.pt", "--zoo", "b=" + dir + "/b.pt"}, kExitUsage,
                 "zoo model name 'bad\\nname' holds a control character");
}

// A second run on an output is refused at once with the holder named; the
// lock goes with its holder's death.
TEST_F(CheckpointFaults, ASecondRunOnTheSameOutputIsRefusedWhileTheFirstHoldsIt) {
  const std::string ckpt = output + ".ckpt";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t holder = ::fork();
  if (holder == 0) {  // another run: takes the lock and waits to be killed
    RunLock lock = RunLock::take(ckpt);
    ssize_t ignored = ::write(ready[1], "x", 1);
    (void)ignored;
    for (;;) ::pause();
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  const Result refused = run_cli({"run", "--config", config});
  EXPECT_EQ(refused.code, kExitInput);
  EXPECT_THAT(refused.err, HasSubstr("output " + output + " is in use by another run (host "));
  EXPECT_THAT(refused.err, HasSubstr(", pid " + std::to_string(holder) + ", since "));
  EXPECT_FALSE(fs::exists(output));
  EXPECT_THAT(lock_holder(ckpt), HasSubstr("pid " + std::to_string(holder)));
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  EXPECT_EQ(lock_holder(ckpt), "");
  const Result after = run_cli({"run", "--config", config});
  EXPECT_EQ(after.code, 0) << after.err;
  ::close(ready[0]), ::close(ready[1]);
}

TEST_F(CheckpointFaults, TemporariesOfInterruptedRunsAreRemovedByTheNextRun) {
  fs::create_directories(dir + "/out/result.h5.ckpt/fields/a");
  std::ofstream(output + ".tmp-99999") << std::string(5000, 'x');
  std::ofstream(output + ".ckpt/fields/a/b000000.h5.tmp-99999") << "half a shard";
  std::ofstream(dir + "/out/other.h5.tmp-1") << "another output's";  // not this run's
  EXPECT_EQ(find_temporaries(output).count, 2);
  const Result r = run_cli({"run", "--config", config});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("removed 2 temporaries"));
  EXPECT_FALSE(fs::exists(output + ".tmp-99999"));
  EXPECT_FALSE(fs::exists(output + ".ckpt/fields/a/b000000.h5.tmp-99999"));
  EXPECT_TRUE(fs::exists(dir + "/out/other.h5.tmp-1"));
  EXPECT_EQ(find_temporaries(output).count, 0);
}

TEST_F(Refusals, AZooEntryPointedAtAnotherFileSaysSo) {
  ASSERT_EQ(run_cli({"run", "--config", config}).code, 0);
  fs::remove(output);
  const Result r = run_cli({"run", "--config", config, "--zoo", "a=" + dir + "/b.pt", "--zoo", "b=" + dir + "/b.pt",
                            "--zoo", "a-perm=" + dir + "/a-perm.pt"});
  EXPECT_EQ(r.code, kExitInput);
  EXPECT_THAT(r.err, HasSubstr("model 'a': now " + dir + "/b.pt, another file than " + dir + "/a.pt"));
}

TEST_F(CheckpointFaults, ValuesAreNormalizedBeforeFingerprinting) {
  ASSERT_EQ(run_cli({"run", "--config", config, "--field.cumulative", "yes", "--references.scale", "1"}).code, 0);
  fs::remove(output);
  const Result r = run_cli({"run", "--config", config, "--field.cumulative", "true", "--references.scale", "1.0"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 of 9 (model, block) pieces computed, 9 reused"));
}

TEST_F(Refusals, StrayArgumentsAndAMissingConfigAreUsageErrors) {
  Result r = run_cli({"run", "--config", config, "stray"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unexpected argument 'stray'"));
  r = run_cli({"run"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("run: give a config"));
  r = run_cli({"run", "--config", dir});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("cannot read the file (it is a folder)"));
}

namespace {

// A small file system of our own (tmpfs), or why there is none.
struct Mount {
  std::string path, why_not;
  Mount(const std::string& at, const std::string& options) : path(at) {
    fs::create_directories(at);
    const std::string cmd = "mount -t tmpfs -o " + options + " modelgif-test " + at + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) why_not = "cannot mount a tmpfs here (not root, or no mount rights)";
  }
  ~Mount() {
    if (why_not.empty() && std::getenv("KEEP_MOUNT") == nullptr)
      std::system(("umount " + path + " 2>/dev/null").c_str());
  }
};

}  // namespace

// A full disk or a read-only folder is said in one line that names the file and the reason.
TEST_F(CheckpointFaults, AFullDiskAndAReadOnlyFolderAreNamed) {
  const Mount full(dir + "/full", "size=64k");
  if (!full.why_not.empty()) GTEST_SKIP() << full.why_not;
  const Mount ro(dir + "/ro", "size=64k,ro");
  std::vector<std::string> big = {"--output.path", dir + "/full/out.h5", "--field.steps", "60"};
  Result r = run_cli({"run", "--config", config, "--output.path", dir + "/full/out.h5", "--field.steps", "60"});
  EXPECT_EQ(r.code, kExitInput) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot write " + dir + "/full/out.h5.ckpt/"));
  EXPECT_THAT(r.err, HasSubstr("No space left on device"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(find_temporaries(dir + "/full/out.h5").count, 0) << "a failed write left its temporary";
  r = run_cli({"run", "--config", config, "--output.path", dir + "/ro/out.h5"});
  EXPECT_EQ(r.code, kExitInput) << r.err;
  EXPECT_THAT(r.err, HasSubstr(dir + "/ro/out.h5.ckpt"));
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
}

TEST_F(Refusals, MissingAndOddInputFilesAreNamedForWhatTheyAre) {
  expect_failure({"--references.source", dir + "/gone.h5:/images"}, kExitInput,
                 "references " + dir + "/gone.h5:/images: no such file " + dir + "/gone.h5");
  fs::create_directories(dir + "/folder.pt");
  expect_failure({"--zoo", "f=" + dir + "/folder.pt"}, kExitInput,
                 "model 'f': " + dir + "/folder.pt is a folder, not a file");
  expect_failure({"--zoo", "n=/dev/null"}, kExitInput, "model 'n': /dev/null is not a regular file");
  expect_failure({"--run.threads", "100000"}, kExitUsage, "key 'run.threads': at most 1024");
}
