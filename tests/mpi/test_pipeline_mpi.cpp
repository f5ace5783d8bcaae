// The distributed pipeline end to end: real mpiexec jobs of the modelgif
// program on a small zoo, checked against a one-process run. The test itself
// is a serial program that launches, signals and kills the jobs.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "modelgif/h5.hpp"
#include "run/result_file.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

namespace {

struct Job {
  int code = -1;
  std::string out;
};

// Runs a shell command, capturing stdout and stderr.
Job sh(const std::string& cmd) {
  Job j;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) j.out.append(buf, n);
  const int st = pclose(p);
  j.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return j;
}

std::string mpiexec(int ranks) {
  return std::string(MODELGIF_MPIEXEC) + " -n " + std::to_string(ranks) + " --oversubscribe " +
         (geteuid() == 0 ? "--allow-run-as-root " : "");
}

// A job in the background, in its own process group; output to a file.
struct Background {
  pid_t pid = -1;
  std::string log;
  Background(const std::string& cmd, const std::string& log_path) : log(log_path) {
    pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      execl("/bin/sh", "sh", "-c", (cmd + " > " + log_path + " 2>&1").c_str(), nullptr);
      _exit(127);
    }
    setpgid(pid, pid);
  }
  int wait(int seconds = 240) {
    for (int i = 0; i < seconds * 50; ++i) {
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(-pid, SIGKILL);
    return -1;
  }
  std::string output() const {
    std::ifstream in(log);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

// The processes running `binary` below `root` (mpiexec's ranks).
std::vector<pid_t> ranks_of(pid_t root) {
  std::vector<pid_t> found;
  std::vector<pid_t> frontier = {root};
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    for (const auto& e : fs::directory_iterator("/proc")) {
      const std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(e.path() / "stat");
      std::string line;
      std::getline(stat, line);
      const auto close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 2));
      char state;
      pid_t ppid;
      rest >> state >> ppid;
      if (ppid != parent) continue;
      const pid_t pid = std::stoi(name);
      frontier.push_back(pid);
      std::ifstream comm(e.path() / "comm");
      std::string c;
      std::getline(comm, c);
      if (c == "modelgif") found.push_back(pid);
    }
  }
  return found;
}

int64_t count_shards(const std::string& ckpt) {
  int64_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(ckpt + "/fields", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".h5") ++n;
  return n;
}

bool wait_for_shards(const std::string& ckpt, int64_t n, int seconds = 240) {
  for (int i = 0; i < seconds * 100; ++i) {
    if (count_shards(ckpt) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(1e-12, std::fabs(b[i])));
  return worst;
}

class Pipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = testsupport::temp_dir(std::string("mpi-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (int i = 0; i < 6; ++i) testsupport::tanh_cnn(100 + i).save(dir + "/m" + std::to_string(i) + ".pt");
    testsupport::write_random_refs(dir + "/refs.h5", 11);
  }
  // A config over models m0..m{M-1}: 11 references in blocks of 3 (4 blocks, the last short).
  std::string config(int models, const std::string& name, int steps = 8, const std::string& extra = "") {
    const std::string path = dir + "/" + name + ".yaml";
    std::ofstream c(path);
    c << "zoo:\n";
    for (int i = 0; i < models; ++i) c << "  - {name: m" << i << ", path: " << dir << "/m" << i << ".pt}\n";
    c << "references: {source: " << dir << "/refs.h5:/images}\n"
      << "field: {steps: " << steps << "}\n"
      << "distance: {metrics: [cosine, euclidean, cosine_frechet, euclidean_frechet, cosine_standardized]}\n"
      << "output: {path: " << dir << "/" << name << "/out.h5, store_fields: true}\n"
      << "run: {block: 3, max_points: 5, threads: 1, memory_format: contiguous, progress_interval: 0.2}\n"
      << extra;
    return path;
  }
  std::string out(const std::string& name) const { return dir + "/" + name + "/out.h5"; }
  // Runs the uninterrupted reference "full", then starts run `name` on `ranks`
  // ranks in the background and, once `shards` shards exist, freezes its ranks
  // (SIGSTOP) and returns their pids: what the caller then sends them meets a
  // run that is still in the middle, however fast this machine is. The caller
  // continues them (resume()).
  std::unique_ptr<Background> start_long_run(const std::string& name, int ranks, int64_t shards,
                                             std::vector<pid_t>& pids, const std::string& extra = "") {
    const Job full = run(0, config(4, "full", 128));
    EXPECT_EQ(full.code, 0) << full.out;
    auto job = std::make_unique<Background>(
        mpiexec(ranks) + MODELGIF_BIN + " run --config " + config(4, name, 128) + " " + extra,
        dir + "/" + name + ".log");
    pids = running_ranks(*job, ranks);
    EXPECT_TRUE(wait_for_shards(out(name) + ".ckpt", shards)) << job->output();
    for (pid_t r : pids) kill(r, SIGSTOP);
    EXPECT_LT(count_shards(out(name) + ".ckpt"), 16) << "the run finished before it was frozen";
    return job;
  }
  static void resume(const std::vector<pid_t>& pids) {
    for (pid_t r : pids) kill(r, SIGCONT);
  }
  // The pids of a background job's `ranks` ranks, as soon as they all run.
  static std::vector<pid_t> running_ranks(const Background& job, int ranks) {
    std::vector<pid_t> pids;
    for (int i = 0; i < 6000 && static_cast<int>(pids.size()) < ranks; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      pids = ranks_of(job.pid);
    }
    EXPECT_EQ(static_cast<int>(pids.size()), ranks) << job.output();
    return pids;
  }
  Job run(int ranks, const std::string& cfg, const std::string& extra = "") {
    return sh((ranks > 0 ? mpiexec(ranks) : std::string()) + MODELGIF_BIN + " run --config " + cfg + " " + extra);
  }
  // Same matrices (1e-6 relative) and fields (1e-6 of the field's scale) as the reference run.
  // The micro-batch size, threads and memory format are pinned: every
  // (model, block) piece is computed the same way on any rank, so the fields
  // are bitwise equal, and the matrices differ only by the order in which
  // float64 sums of blocks and pairs meet (rounding, far below 1e-12). A run
  // resumed inside a piece (from a partial shard) cuts that piece's
  // micro-batches elsewhere: its fields differ by float32 rounding
  // (`resumed`: within 1e-6 of the largest value, as any two micro-batch sizes).
  void expect_same(const std::string& got, const std::string& want, int models, bool resumed = false) {
    const RunResult a = read_result(got), b = read_result(want);
    ASSERT_EQ(a.names, b.names);
    ASSERT_EQ(a.metrics, b.metrics);
    for (size_t i = 0; i < a.metrics.size(); ++i)
      EXPECT_LT(max_rel_diff(a.matrices[i], b.matrices[i]), resumed ? 1e-6 : 1e-12) << a.metrics[i] << " of " << got;
    for (int m = 0; m < models; ++m) {
      const auto fa = read_fields(got, "m" + std::to_string(m)), fb = read_fields(want, "m" + std::to_string(m));
      ASSERT_EQ(fa.sizes(), fb.sizes());
      if (resumed)
        EXPECT_LE((fa - fb).abs().max().item<double>(), 1e-6 * fb.abs().max().item<double>()) << "fields of m" << m;
      else
        EXPECT_TRUE(at::equal(fa, fb)) << "fields of m" << m << " of " << got;
    }
  }
  std::string dir;
};

}  // namespace

TEST_F(Pipeline, SameResultsForAnyRankCountAndGrid) {
  const auto cfg = config(5, "p1");
  const Job one = run(0, cfg);
  ASSERT_EQ(one.code, 0) << one.out;
  const std::vector<std::pair<int, std::string>> cases = {{2, "auto"}, {3, "auto"}, {4, "auto"}, {4, "2x2"},
                                                          {4, "1x3"},  {4, "4x1"},  {3, "3x1"},  {4, "2x1"}};
  int i = 0;
  for (const auto& [ranks, grid] : cases) {
    const std::string name = "p" + std::to_string(ranks) + "-" + std::to_string(i++);
    const auto c = config(5, name);
    const Job j = run(ranks, c, "--run.grid " + grid);
    ASSERT_EQ(j.code, 0) << j.out;
    EXPECT_THAT(j.out, HasSubstr("on " + std::to_string(ranks) + " ranks")) << j.out;
    expect_same(out(name), out("p1"), 5);
  }
  // checkpoint.fields: none gives the same results (fields in the result
  // included) with a checkpoint of sums and moments only.
  const std::vector<std::pair<int, std::string>> none_cases = {{1, "auto"}, {2, "auto"}, {4, "2x2"}, {3, "3x1"}};
  for (const auto& [ranks, grid] : none_cases) {
    const std::string name = "none-" + std::to_string(ranks) + "-" + grid;
    const Job j = run(ranks, config(5, name), "--run.grid " + grid + " --checkpoint.fields none");
    ASSERT_EQ(j.code, 0) << j.out;
    expect_same(out(name), out("p1"), 5);
    EXPECT_FALSE(fs::exists(out(name) + ".ckpt/fields")) << name;
    EXPECT_TRUE(fs::exists(out(name) + ".ckpt/pairs/plain-b3.h5")) << name;
  }
}

// checkpoint.fields: none resumes at block granularity: a stopped run keeps
// the sums of its finished blocks, and the rerun computes only the others.
TEST_F(Pipeline, NoneResumesAtBlockGranularity) {
  const std::string extra = " --checkpoint.fields none --output.store_fields false";
  const Job full = run(0, config(4, "none-full", 128), extra);
  ASSERT_EQ(full.code, 0) << full.out;
  const std::string cfg = config(4, "none-stop", 128);
  Background job(mpiexec(2) + MODELGIF_BIN + " run --config " + cfg + extra, dir + "/none-stop.log");
  const std::vector<pid_t> ranks = running_ranks(job, 2);
  const auto sums = [&] {
    int64_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(out("none-stop") + ".ckpt/pairs", ec))
      n += e.path().extension() == ".h5" ? 1 : 0;
    return n;
  };
  for (int i = 0; i < 24000 && sums() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (pid_t r : ranks) kill(r, SIGSTOP);
  ASSERT_GE(sums(), 1) << job.output();
  ASSERT_LT(sums(), 8) << "the run finished before it was frozen";  // 4 blocks x 2 kinds
  for (pid_t r : ranks) kill(r, SIGTERM);
  for (pid_t r : ranks) kill(r, SIGCONT);
  EXPECT_EQ(job.wait(), 75) << job.output();
  EXPECT_FALSE(fs::exists(out("none-stop") + ".ckpt/fields"));
  const Job resumed = run(2, cfg, extra);
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  // The finished blocks' sums are reused, not computed again.
  EXPECT_THAT(resumed.out,
              ::testing::ContainsRegex("pairs: [0-9]+ \\(pair, block\\) sums computed, [1-9][0-9]* reused"))
      << resumed.out;
  const RunResult a = read_result(out("none-stop")), b = read_result(out("none-full"));
  for (size_t i = 0; i < a.metrics.size(); ++i)
    EXPECT_LT(max_rel_diff(a.matrices[i], b.matrices[i]), 1e-12) << a.metrics[i];
}

TEST_F(Pipeline, ResumeAfterSigkillOfOneRankWithAnotherRankCount) {
  std::vector<pid_t> ranks;
  auto job = start_long_run("killed", 3, 3, ranks);
  ASSERT_EQ(ranks.size(), 3u);
  const auto cfg = dir + "/killed.yaml";
  kill(ranks[1], SIGKILL);
  resume(ranks);
  EXPECT_NE(job->wait(), 0);
  EXPECT_FALSE(fs::exists(out("killed"))) << "a killed run must not leave a result";
  const int64_t shards = count_shards(out("killed") + ".ckpt");
  ASSERT_GT(shards, 0);
  const Job resumed = run(2, cfg);
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  // Every finished shard was reused (partial ones count as resumed, not reused).
  std::ostringstream want;
  want << "pieces computed, ";
  EXPECT_THAT(resumed.out, HasSubstr(want.str())) << resumed.out;
  const auto pos = resumed.out.find("pieces computed, ");
  const int64_t reused = std::stoll(resumed.out.substr(pos + 17));
  EXPECT_GE(reused, shards - 3) << resumed.out;  // at most one partial shard per killed rank
  EXPECT_GT(reused, 0) << resumed.out;
  expect_same(out("killed"), out("full"), 4, true);
}

TEST_F(Pipeline, GracefulSigtermCheckpointsAndResumes) {
  std::vector<pid_t> ranks;
  const std::string report = dir + "/term.report";
  auto job = start_long_run("term", 2, 2, ranks, "--report " + report);
  const auto cfg = dir + "/term.yaml";
  for (pid_t r : ranks) kill(r, SIGTERM);  // as SLURM signals every task
  resume(ranks);
  const int code = job->wait();
  EXPECT_EQ(code, 75) << job->output();
  EXPECT_THAT(job->output(), HasSubstr("stopped by signal 15")) << job->output();
  // What the batch script reads: this start finished work, and what is left.
  std::ifstream in(report);
  const std::string said((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(said, HasSubstr("state: stopped\nprogress: true\n")) << said;
  EXPECT_THAT(said, HasSubstr("pieces_total: 16\n")) << said;
  EXPECT_THAT(said, HasSubstr(" of 16 pieces, 0 of 8 pair blocks; ")) << said;
  EXPECT_FALSE(fs::exists(out("term")));
  // The checkpoint is intact: status reads it without MPI.
  const Job status = sh(std::string(MODELGIF_BIN) + " status " + out("term"));
  ASSERT_EQ(status.code, 0) << status.out;
  EXPECT_THAT(status.out, HasSubstr("output not written yet")) << status.out;
  EXPECT_THAT(status.out, HasSubstr("m3")) << status.out;
  EXPECT_THAT(status.out, Not(HasSubstr("corrupt"))) << status.out;
  const Job resumed = run(3, cfg);
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_THAT(resumed.out, Not(HasSubstr("corrupt"))) << resumed.out;
  expect_same(out("term"), out("full"), 4, true);
  const Job done = sh(std::string(MODELGIF_BIN) + " status " + out("term"));
  EXPECT_THAT(done.out, HasSubstr("remaining: 0 (model, block) pieces; done")) << done.out;
}

TEST_F(Pipeline, CorruptShardsAreDetectedAndRecomputed) {
  const auto cfg = config(3, "c");
  ASSERT_EQ(run(2, cfg).code, 0);
  fs::copy_file(out("c"), dir + "/reference.h5");
  const std::string ckpt = out("c") + ".ckpt";
  // Truncate one shard, flip bytes in the data of another.
  const std::string a = ckpt + "/fields/m0/b000001.h5", b = ckpt + "/fields/m2/b000003.h5";
  fs::resize_file(a, fs::file_size(a) / 2);
  {
    std::fstream f(b, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const auto size = static_cast<std::streamoff>(f.tellg());
    for (std::streamoff off : {size - 700, size - 600}) {
      f.seekp(off);
      f.put('\x5a');
    }
  }
  const Job j = run(2, cfg);
  ASSERT_EQ(j.code, 0) << j.out;
  EXPECT_THAT(j.out, HasSubstr(a + " is corrupt")) << j.out;
  EXPECT_THAT(j.out, HasSubstr(b + " is corrupt")) << j.out;
  EXPECT_THAT(j.out, HasSubstr("2 corrupt ones recomputed")) << j.out;
  EXPECT_THAT(j.out, HasSubstr("2 of 12 (model, block) pieces computed, 10 reused")) << j.out;
  const RunResult x = read_result(out("c")), y = read_result(dir + "/reference.h5");
  for (size_t i = 0; i < x.matrices.size(); ++i) EXPECT_EQ(x.matrices[i], y.matrices[i]) << x.metrics[i];
}

TEST_F(Pipeline, FingerprintMismatchIsRefusedWithAClearMessage) {
  const auto cfg = config(3, "f");
  ASSERT_EQ(run(2, cfg).code, 0);
  const Job steps = run(2, cfg, "--field.steps 9");
  EXPECT_EQ(steps.code, 3) << steps.out;
  EXPECT_THAT(steps.out, HasSubstr("field.steps was 8, now 9")) << steps.out;
  EXPECT_THAT(steps.out, HasSubstr("--recompute")) << steps.out;
  // A changed model file.
  testsupport::tanh_cnn(999).save(dir + "/m1.pt");
  const Job model = run(2, cfg);
  EXPECT_EQ(model.code, 3) << model.out;
  EXPECT_THAT(model.out, HasSubstr("model 'm1': " + dir + "/m1.pt changed since checkpoint")) << model.out;
  const Job again = run(2, cfg, "--recompute");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_THAT(again.out, HasSubstr("4 of 12 (model, block) pieces computed, 8 reused")) << again.out;
}

TEST_F(Pipeline, IncrementalZooComputesOnlyTheNewModelsAndPairs) {
  ASSERT_EQ(run(2, config(3, "inc")).code, 0);
  const Job grown = run(3, config(5, "inc"));
  ASSERT_EQ(grown.code, 0) << grown.out;
  // 2 new models x 4 blocks of fields; pairs: (C(5,2) - C(3,2)) x 4 blocks = 28 plain + 28 standardized.
  EXPECT_THAT(grown.out, HasSubstr("fields: 8 of 20 (model, block) pieces computed, 12 reused")) << grown.out;
  EXPECT_THAT(grown.out, HasSubstr("pairs: 56 (pair, block) sums computed, 24 reused")) << grown.out;
  ASSERT_EQ(run(0, config(5, "fresh")).code, 0);
  expect_same(out("inc"), out("fresh"), 5);
}

TEST_F(Pipeline, APairNeverComputedIsComputedEvenWhenBothModelsAreCached) {
  // {m0, m1}, then {m0, m2}: the cache knows m1 and m2 but never met them together.
  const auto write = [&](const std::string& name, const std::vector<int>& models) {
    const std::string path = dir + "/" + name + ".yaml";
    std::ofstream c(path);
    c << "zoo:\n";
    for (int i : models) c << "  - {name: m" << i << ", path: " << dir << "/m" << i << ".pt}\n";
    c << "references: {source: " << dir << "/refs.h5:/images}\nfield: {steps: 8}\n"
      << "output: {path: " << dir << "/shared/out.h5}\nrun: {block: 3, max_points: 5, threads: 1}\n";
    return path;
  };
  ASSERT_EQ(run(2, write("ab", {0, 1})).code, 0);
  ASSERT_EQ(run(2, write("ac", {0, 2})).code, 0);
  const Job bc = run(2, write("bc", {1, 2}));
  ASSERT_EQ(bc.code, 0) << bc.out;
  EXPECT_THAT(bc.out, HasSubstr("pairs: 4 (pair, block) sums computed, 0 reused")) << bc.out;
  const RunResult r = read_result(dir + "/shared/out.h5");
  EXPECT_FALSE(std::isnan(r.matrices[0][1])) << "m1-m2 distance";
  EXPECT_GT(r.matrices[0][1], 0.0);
}

TEST_F(Pipeline, ParallelOutputIsReadableByH5dumpWithTheDocumentedSchema) {
  ASSERT_EQ(run(3, config(4, "d")).code, 0);
  const Job dump = sh("h5dump -H " + out("d"));
  ASSERT_EQ(dump.code, 0) << dump.out;
  for (const char* obj : {"DATASET \"names\"", "DATASET \"cosine\"", "DATASET \"cosine_standardized\"",
                          "DATASET \"m3\"", "DATASET \"zero_norm_rows\"", "DATASET \"indices\"", "ATTRIBUTE \"config\"",
                          "ATTRIBUTE \"placement\"", "ATTRIBUTE \"mpi_version\"", "ATTRIBUTE \"grid\""})
    EXPECT_THAT(dump.out, HasSubstr(obj)) << obj;
  EXPECT_THAT(dump.out, HasSubstr("DATASPACE  SIMPLE { ( 11, 8, 64 ) / ( 11, 8, 64 ) }")) << dump.out;
  const Job names = sh("h5dump -d /models/names " + out("d"));
  EXPECT_THAT(names.out, HasSubstr("\"m0\", \"m1\", \"m2\", \"m3\"")) << names.out;
}

TEST_F(Pipeline, ErrorsUnderMpiAreOneLineAndTheirExitCode) {
  testsupport::sqrt_model().save(dir + "/m5.pt");  // NaN on negative inputs
  const Job nan = run(3, config(6, "nan"));
  EXPECT_EQ(nan.code, 4) << nan.out;
  EXPECT_THAT(nan.out, HasSubstr("modelgif: error: model 'm5': gradient field is NaN/Inf at reference")) << nan.out;
  size_t lines = 0;
  for (size_t p = nan.out.find("modelgif: error"); p != std::string::npos; p = nan.out.find("modelgif: error", p + 1))
    ++lines;
  EXPECT_EQ(lines, 1u) << nan.out;
  EXPECT_FALSE(fs::exists(out("nan")));
  const Job key = run(2, config(3, "key"), "--field.stpes 3");
  EXPECT_EQ(key.code, 2) << key.out;
  EXPECT_THAT(key.out, HasSubstr("did you mean '--field.steps'")) << key.out;
}

TEST_F(Pipeline, SecondSignalStopsAtOnceWithoutDamagingShards) {
  std::vector<pid_t> ranks;
  auto job = start_long_run("twice", 2, 2, ranks);
  const auto cfg = dir + "/twice.yaml";
  // Two signals of one kind sent to a stopped process arrive as one: the
  // second comes once the ranks run again.
  for (pid_t r : ranks) kill(r, SIGTERM);
  resume(ranks);
  for (pid_t r : ranks) kill(r, SIGTERM);
  EXPECT_NE(job->wait(), 0) << job->output();
  EXPECT_FALSE(fs::exists(out("twice")));
  // Whatever was finished is intact: nothing is reported corrupt and the resume is exact.
  const Job status = sh(std::string(MODELGIF_BIN) + " status " + out("twice"));
  ASSERT_EQ(status.code, 0) << status.out;
  EXPECT_THAT(status.out, Not(HasSubstr("corrupt"))) << status.out;
  const Job resumed = run(2, cfg);
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_THAT(resumed.out, Not(HasSubstr("corrupt"))) << resumed.out;
  expect_same(out("twice"), out("full"), 4, true);
}

// One run at a time on an output, under mpirun: rank 0 takes the lock, every
// rank learns that a second run is refused, and the refusal names the holder.
TEST_F(Pipeline, ASecondRunOnTheSameOutputIsRefusedUnderMpi) {
  // The first run is frozen (SIGSTOP) once it has a shard: it holds the lock
  // for as long as the test needs, however fast this machine is.
  const std::string cfg = config(4, "locked", 512);
  Background first(mpiexec(2) + MODELGIF_BIN + " run --config " + cfg, dir + "/locked.log");
  const std::vector<pid_t> ranks = running_ranks(first, 2);
  ASSERT_TRUE(wait_for_shards(out("locked") + ".ckpt", 1)) << first.output();
  for (pid_t r : ranks) kill(r, SIGSTOP);
  const Job second = run(2, cfg);
  EXPECT_EQ(second.code, 3) << second.out;
  EXPECT_THAT(second.out, HasSubstr("modelgif: error: output " + out("locked") + " is in use by another run (host "));
  size_t lines = 0;  // rank 0 alone reports (mpiexec adds its own banner)
  for (size_t p = second.out.find("modelgif: error"); p != std::string::npos;
       p = second.out.find("modelgif: error", p + 1))
    ++lines;
  EXPECT_EQ(lines, 1u) << second.out;
  const Job status = sh(std::string(MODELGIF_BIN) + " status " + out("locked"));
  EXPECT_THAT(status.out, HasSubstr("in use by   host ")) << status.out;
  // Once the first run is killed, its lock goes with it: a run gets past the
  // lock (to be refused for its other configuration, which is checked under it).
  for (pid_t r : ranks) kill(r, SIGKILL);
  first.wait();
  const Job after = sh(std::string(MODELGIF_BIN) + " status " + out("locked"));
  EXPECT_THAT(after.out, Not(HasSubstr("in use by"))) << after.out;
  const Job other = run(2, cfg, "--field.steps 9");
  EXPECT_EQ(other.code, 3) << other.out;
  EXPECT_THAT(other.out, HasSubstr("belongs to another configuration (field.steps was 512, now 9)")) << other.out;
}

// Open MPI gives its ranks a pseudo-terminal even when mpirun's output goes to
// a file: the log must get plain progress lines, not carriage-return bars. And
// every run ends with its time per phase, over the ranks.
TEST_F(Pipeline, ALogUnderMpirunGetsPlainProgressLinesAndTheTimePerPhase) {
  Background job(
      mpiexec(2) + MODELGIF_BIN + " run --config " + config(4, "progress", 128) + " --run.progress_interval 0.01",
      dir + "/progress.log");
  ASSERT_EQ(job.wait(), 0) << job.output();
  const std::string log = job.output();
  EXPECT_THAT(log, HasSubstr("\nprogress: ")) << log;
  EXPECT_EQ(log.find('\r'), std::string::npos) << "a carriage-return bar in the log:\n" << log;
  EXPECT_THAT(log, HasSubstr("time (s, max/mean over 2 ranks): load ")) << log;
  for (const char* phase : {", tune ", ", fields work ", ", fields ", ", pairs ", ", output ", "; total "})
    EXPECT_THAT(log, HasSubstr(phase)) << log;
}
