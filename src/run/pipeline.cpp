// The orchestrator of one run: the phases of run/phases.hpp, in order.
#include "modelgif/pipeline.hpp"

#include <chrono>
#include <iomanip>
#include <iostream>

#include "modelgif/error.hpp"
#include "run/phases.hpp"
#include "run/signals.hpp"

namespace modelgif {
namespace {

// Records the seconds since the previous mark as this rank's time in `phase`.
class PhaseClock {
 public:
  explicit PhaseClock(RunState& run) : run_(run), last_(std::chrono::steady_clock::now()) {}
  void mark(const std::string& phase) {
    const auto now = std::chrono::steady_clock::now();
    run_.seconds.emplace_back(phase, std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }

 private:
  RunState& run_;
  std::chrono::steady_clock::time_point last_;
};

// Every rank: each phase's max and mean over the ranks, into the summary and
// (rank 0) the log.
void report_times(RunState& run) {
  std::vector<double> sum(run.seconds.size()), max(run.seconds.size());
  for (size_t i = 0; i < run.seconds.size(); ++i) sum[i] = max[i] = run.seconds[i].second;
  run.world.allreduce_sum(sum);
  run.world.allreduce_max(max);
  const int ranks = run.world.size();
  double total = 0;
  std::ostringstream line;
  line << std::fixed << std::setprecision(2);
  for (size_t i = 0; i < run.seconds.size(); ++i) {
    const std::string& phase = run.seconds[i].first;
    run.summary.phase_seconds.push_back({phase, max[i], sum[i] / ranks});
    line << (i ? ", " : "") << phase << " " << max[i];
    if (ranks > 1) line << "/" << sum[i] / ranks;
    if (phase != "fields work") total += max[i];
  }
  run.log << "time (s" << (ranks > 1 ? ", max/mean over " + std::to_string(ranks) + " ranks" : std::string())
          << "): " << line.str() << "; total " << std::setprecision(2) << std::fixed << total << "\n";
}

// Rank 0, for `--report`: the tally before the field phase, and the report
// written however the run ends.
class RunReport {
 public:
  explicit RunReport(const RunState& run) : run_(run) {}
  void checkpoint_read() {
    if (active()) before_ = tally_work(run_), has_before_ = true;
  }
  void write(const std::string& state) const noexcept {
    if (!active()) return;
    try {
      const WorkTally now = has_before_ ? tally_work(run_) : WorkTally{};
      write_run_report(run_, run_.opt.report_path, state, has_before_ ? &before_ : nullptr,
                       has_before_ ? &now : nullptr);
    } catch (const std::exception& e) {
      std::cerr << "modelgif: warning: cannot write the run report " << run_.opt.report_path << ": " << e.what()
                << "\n";
    }
  }

 private:
  bool active() const { return !run_.opt.report_path.empty() && run_.world.rank() == 0; }
  const RunState& run_;
  WorkTally before_;
  bool has_before_ = false;
};

void run_phases(RunState& run, RunReport& report) {
  PhaseClock clock(run);
  place(run);
  claim_output(run);
  load_inputs(run);
  plan_work(run);
  load_models(run);
  clock.mark("load");
  reconcile_checkpoint(run);
  report.checkpoint_read();
  clock.mark("tune");
  compute_fields(run);  // also records "fields work"
  clock.mark("fields");
  compute_pairs(run);
  clock.mark("pairs");
  write_result(run, compute_matrices(run));
  clock.mark("output");
  report_times(run);
}

}  // namespace

RunSummary run_pipeline(const RunConfig& cfg, std::ostream& log, const RunOptions& opt) {
  signals::install();
  RunState run(cfg, opt, log);
  RunReport report(run);
  try {
    run_phases(run, report);
  } catch (const CheckpointedStop&) {
    report.write("stopped");
    remove_unused_checkpoint(run);
    throw;
  } catch (...) {
    report.write("failed");
    remove_unused_checkpoint(run);
    throw;
  }
  report.write("complete");
  return run.summary;
}

}  // namespace modelgif
