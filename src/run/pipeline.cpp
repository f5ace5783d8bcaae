// The orchestrator of one run: the phases of run/phases.hpp, in order.
#include "modelgif/pipeline.hpp"

#include "run/phases.hpp"
#include "run/signals.hpp"

namespace modelgif {

RunSummary run_pipeline(const RunConfig& cfg, std::ostream& log, const RunOptions& opt) {
  signals::install();
  RunState run(cfg, opt, log);
  place(run);
  claim_output(run);
  load_inputs(run);
  plan_work(run);
  load_models(run);
  reconcile_checkpoint(run);
  compute_fields(run);
  compute_pairs(run);
  write_result(run, compute_matrices(run));
  return run.summary;
}

}  // namespace modelgif
