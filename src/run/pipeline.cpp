// The orchestrator of one run: the phases of run/phases.hpp, in order, each
// given what it needs and returning what it produces.
#include "modelgif/pipeline.hpp"

#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>

#include "modelgif/error.hpp"
#include "run/phases.hpp"
#include "run/signals.hpp"

namespace modelgif {
namespace {

// This rank's seconds per phase, marked in order.
class PhaseClock {
 public:
  void mark(const std::string& phase) {
    const auto now = std::chrono::steady_clock::now();
    seconds.emplace_back(phase, std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }
  std::vector<std::pair<std::string, double>> seconds;

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// This process's bytes read and written through system calls (/proc/self/io:
// rchar, wchar; page cache included) and its peak resident memory.
struct Resources {
  double read_mb = 0, written_mb = 0, peak_rss_mb = 0;
};
Resources resources() {
  Resources r;
  std::ifstream io("/proc/self/io");
  for (std::string key; io >> key;) {
    double v = 0;
    io >> v;
    if (key == "rchar:") r.read_mb = v / 1e6;
    if (key == "wchar:") r.written_mb = v / 1e6;
  }
  struct rusage u {};
  if (getrusage(RUSAGE_SELF, &u) == 0) r.peak_rss_mb = static_cast<double>(u.ru_maxrss) / 1e3;  // kB
  return r;
}

// Every rank: each phase's max and mean over the ranks, and the I/O and peak
// memory (summed and largest over the ranks), into the summary and (rank 0) the log.
void report_times(const RunContext& run, const PhaseClock& clock, int64_t shards_read, RunSummary& summary) {
  const auto& sec = clock.seconds;
  std::vector<double> sum(sec.size()), max(sec.size());
  for (size_t i = 0; i < sec.size(); ++i) sum[i] = max[i] = sec[i].second;
  run.world.allreduce_sum(sum);
  run.world.allreduce_max(max);
  const int ranks = run.world.size();
  double total = 0;
  std::ostringstream line;
  line << std::fixed << std::setprecision(2);
  for (size_t i = 0; i < sec.size(); ++i) {
    const std::string& phase = sec[i].first;
    summary.phase_seconds.push_back({phase, max[i], sum[i] / ranks});
    line << (i ? ", " : "") << phase << " " << max[i];
    if (ranks > 1) line << "/" << sum[i] / ranks;
    if (phase.find(" work") == std::string::npos) total += max[i];
  }
  std::ostream& log = run.log.out();
  log << "time (s" << (ranks > 1 ? ", max/mean over " + std::to_string(ranks) + " ranks" : std::string())
      << "): " << line.str() << "; total " << std::setprecision(2) << std::fixed << total << "\n";
  const Resources mine = resources();
  std::vector<double> io = {mine.read_mb, mine.written_mb}, peak = {mine.peak_rss_mb};
  run.world.allreduce_sum(io);
  run.world.allreduce_max(peak);
  summary.read_mb = io[0], summary.written_mb = io[1], summary.peak_rss_mb = peak[0];
  summary.shards_read = run.world.allreduce_sum(shards_read);
  log << std::setprecision(0) << "io (MB" << (ranks > 1 ? ", all ranks" : "") << "): read " << io[0] << ", written "
      << io[1] << "; peak memory " << peak[0] << " MB" << (ranks > 1 ? " (largest rank)" : "") << "; "
      << summary.shards_read << " shards read\n";
}

void print_work(const RunContext& run, const Plan& plan, const BlockWork& w, const RunSummary& s) {
  std::ostream& log = run.log.out();
  log << "fields: " << s.pieces_computed << " of " << plan.M * plan.B << " (model, block) pieces computed, "
      << s.pieces_reused << " reused from the checkpoint";
  if (s.pieces_resumed) log << ", " << s.pieces_resumed << " resumed from partial shards";
  if (s.pieces_corrupt) log << ", " << s.pieces_corrupt << " corrupt ones recomputed";
  if (s.pieces_again)
    log << ", " << s.pieces_again << " computed again (checkpoint.fields: none keeps no fields"
        << (run.cfg.wants(Metric::CosineStandardized) ? "; cosine_standardized needs them twice" : "") << ")";
  std::ostringstream secs;
  secs << std::fixed << std::setprecision(1) << s.seconds;
  log << " (" << s.points << " points in " << secs.str() << " s)\n";
  if (!w.stopped)
    log << "pairs: " << s.pairs_computed << " (pair, block) sums computed, " << s.pairs_reused << " reused\n";
}

// Rank 0, for --report: the tally once the checkpoint is read, and the
// report written however the run ends.
class RunReport {
 public:
  explicit RunReport(const RunContext& run) : run_(run) {}
  // The plan and fingerprint are kept (copies): the report outlives the phases.
  void checkpoint_read(const Plan& plan, const std::string& fingerprint, const CheckpointStore& store) {
    if (!active()) return;
    plan_ = plan, fingerprint_ = fingerprint, store_ = &store;
    before_ = tally_work(run_.cfg, plan, fingerprint, store);
  }
  // However the run ended; before the checkpoint was read, without tallies.
  void write(const std::string& state) const noexcept {
    if (!active()) return;
    try {
      if (!before_) return write_run_report(run_.cfg, Plan{}, run_.opt.report_path, state, nullptr, nullptr);
      const WorkTally now = tally_work(run_.cfg, *plan_, fingerprint_, *store_);
      write_run_report(run_.cfg, *plan_, run_.opt.report_path, state, &*before_, &now);
    } catch (const std::exception& e) {
      std::cerr << "modelgif: warning: cannot write the run report " << run_.opt.report_path << ": " << e.what()
                << "\n";
    }
  }

 private:
  bool active() const { return !run_.opt.report_path.empty() && run_.world.rank() == 0; }
  const RunContext& run_;
  std::optional<Plan> plan_;
  std::string fingerprint_;
  const CheckpointStore* store_ = nullptr;
  std::optional<WorkTally> before_;
};

RunSummary run_phases(const RunContext& run, const CheckpointStore& store, Claim& claim, bool& fields_started,
                      RunReport& report) {
  PhaseClock clock;
  const int64_t reads_before = CheckpointStore::shards_read();
  const Placement where = place(run);
  claim = claim_output(run, store);
  const Inputs in = load_inputs(run);
  const Plan plan = plan_work(run, where, in);
  Models models = load_models(run, plan, where, in);
  clock.mark("load");
  const Reconciled rec = reconcile_checkpoint(run, plan, in, store);
  const RunNumerics num = choose_numerics(run, plan, where, in, models, rec.found);
  write_manifest(run, plan, rec, num.tuning, store);
  report.checkpoint_read(plan, rec.fingerprint, store);
  clock.mark("tune");
  fields_started = true;
  const BlockWork work = compute_blocks(run, plan, rec, where, in, models, num, store);
  RunSummary s;
  s.pieces_computed = run.world.allreduce_sum(work.computed);
  s.pieces_reused = run.world.allreduce_sum(work.reused);
  s.pieces_resumed = run.world.allreduce_sum(work.resumed);
  s.pieces_corrupt = run.world.allreduce_sum(work.corrupt);
  s.pieces_again = run.world.allreduce_sum(work.again);
  s.points = run.world.allreduce_sum(work.points);
  s.pairs_computed = run.world.allreduce_sum(work.pairs_computed);
  s.pairs_reused = run.world.allreduce_sum(work.pairs_reused);
  std::vector<double> fs = {work.field_seconds};
  run.world.allreduce_max(fs);
  s.seconds = fs[0];
  clock.seconds.emplace_back("fields work", work.field_seconds);
  clock.seconds.emplace_back("pairs work", work.pair_seconds);
  clock.mark("fields and pairs");
  print_work(run, plan, work, s);
  if (work.stopped) throw_stopped(store);
  const Matrices matrices = compute_matrices(run, plan, rec.fingerprint, store);
  write_result(run, plan, ResultFacts{where, in, rec, num, s.points}, matrices, store);
  clock.mark("output");
  s.names = plan.names;
  s.metrics = run.cfg.metrics;
  s.matrices = matrices.per_metric;
  s.references = plan.N;
  s.threads = where.threads;
  s.device = where.device.str();
  s.ranks = plan.ranks;
  s.grid = plan.grid.str();
  report_times(run, clock, CheckpointStore::shards_read() - reads_before, s);
  return s;
}

}  // namespace

RunSummary run_pipeline(const RunConfig& cfg, std::ostream& log, const RunOptions& opt) {
  signals::install();
  const comm::Comm world = comm::Comm::world();
  RunLog run_log(world, log);
  const RunContext run{cfg, opt, world, run_log};
  const CheckpointStore store(CheckpointStore::dir_for(cfg.output_path));
  Claim claim;
  bool fields_started = false;
  RunReport report(run);
  try {
    RunSummary s = run_phases(run, store, claim, fields_started, report);
    report.write("complete");
    return s;
  } catch (const CheckpointedStop&) {
    report.write("stopped");
    if (!fields_started) remove_unused_checkpoint(run, store, claim);
    throw;
  } catch (...) {
    report.write("failed");
    if (!fields_started) remove_unused_checkpoint(run, store, claim);
    throw;
  }
}

}  // namespace modelgif
