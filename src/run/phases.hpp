// The phases of one run, as functions that take what they need and return
// what they produce; run_pipeline (pipeline.cpp) calls them in order, and
// every rank of the world calls every phase. An error that one rank meets
// outside a collective call is agreed on (comm::collective: every rank throws
// it, rank 0 reports); inside the ring exchange and the parallel output,
// where ranks wait on each other, an error ends the job through the CLI's
// MPI_Abort instead.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "modelgif/comm.hpp"
#include "modelgif/config.hpp"
#include "modelgif/distance.hpp"
#include "modelgif/model.hpp"
#include "modelgif/pipeline.hpp"
#include "modelgif/references.hpp"
#include "run/plan.hpp"
#include "run/store.hpp"

namespace modelgif {

// Rank 0's log (the caller's stream; other ranks write to a sink), and the
// lines any rank has for it (a corrupt shard, unusable sums), gathered and
// printed by rank 0.
class RunLog {
 public:
  RunLog(const comm::Comm& world, std::ostream& rank0);
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  std::ostream& out() { return out_; }
  void note(std::string line) { notes_.push_back(std::move(line)); }
  // Every rank: rank 0 prints every rank's notes, which are then cleared.
  void print_notes();

 private:
  const comm::Comm& world_;
  std::ostringstream sink_;
  std::ostream& out_;
  std::vector<std::string> notes_;
};

// What every phase reads and never changes.
struct RunContext {
  const RunConfig& cfg;
  const RunOptions& opt;
  const comm::Comm& world;
  RunLog& log;
};

// 1. Placement: the node-local rank picks the device; CPU ranks share the
//    node's cores. Every rank's line is gathered for the log and the output.
struct Placement {
  c10::Device device{c10::kCPU};
  int threads = 1, local_rank = 0, local_size = 1;
  std::vector<std::string> lines;  // "rank r on HOST (local rank l of s): DEVICE, T threads", every rank
};
Placement place(const RunContext& run);

// 2. Output: rank 0 checks that output.path names a file that is no input of
//    the run, takes the run's lock (refusing at once when another run holds
//    it) and removes the temporaries of interrupted runs.
struct Claim {
  RunLock lock;                  // rank 0: held to the end of the run
  bool made_checkpoint = false;  // rank 0: this run created the checkpoint folder
};
Claim claim_output(const RunContext& run, const CheckpointStore& store);
// Rank 0, when the run fails or stops before its field phase: a checkpoint
// folder that this run made and that holds no work is removed, lock
// included: a refused run leaves nothing behind.
void remove_unused_checkpoint(const RunContext& run, const CheckpointStore& store, const Claim& claim) noexcept;

// 3. Inputs: references (every rank loads them), baselines, and the models'
//    identities (rank 0 hashes the files, every rank gets them).
struct Inputs {
  ReferenceSet refs;
  at::Tensor baselines;
  std::vector<ModelId> models;  // zoo order
};
Inputs load_inputs(const RunContext& run);

// 4. Plan: the grid and this rank's share; 5. its models, loaded, frozen and
//    shape-checked; the run's shape printed.
Plan plan_work(const RunContext& run, const Placement& where, const Inputs& in);
using Models = std::map<int64_t, Model>;  // this rank's group, by zoo index
Models load_models(const RunContext& run, const Plan& plan, const Placement& where, const Inputs& in);

// 6. Checkpoint: rank 0 checks the manifest against this run, refusing or
//    (with --recompute) discarding what does not match. Every rank gets the
//    run's fingerprint; rank 0 the manifest found (empty when none).
struct Reconciled {
  std::string fingerprint, text;
  Manifest found;
};
Reconciled reconcile_checkpoint(const RunContext& run, const Plan& plan, const Inputs& in,
                                const CheckpointStore& store);
// 7. Numerics: the micro-batch bound and memory format, configured, the
//    checkpoint's (a resumed run computes its pieces as before), or timed by
//    rank 0 on the first model; every rank's models are converted to them.
struct RunNumerics {
  Tuned tuning;
  Numerics numerics;
};
RunNumerics choose_numerics(const RunContext& run, const Plan& plan, const Placement& where, const Inputs& in,
                            Models& models, const Manifest& found);
// Rank 0 writes the manifest of this run (what `found` held of other models stays).
void write_manifest(const RunContext& run, const Plan& plan, const Reconciled& rec, const Tuned& tuning,
                    const CheckpointStore& store);

// 8. Fields and pairs, block by block (blocks.cpp): each rank obtains its
//    group's fields of a block (a complete shard read once, or computed), the
//    shard's ranks pass them round a ring in memory, and the block's pair sums
//    are reduced and stored. cosine_standardized first makes every piece's
//    feature moments, reduces them, then makes the sums of both kinds.
struct BlockWork {
  int64_t computed = 0, reused = 0, resumed = 0, corrupt = 0, again = 0, points = 0;  // (model, block) pieces
  int64_t pairs_computed = 0, pairs_reused = 0;                                       // (pair, block) units
  double field_seconds = 0;                                                           // this rank's computing of fields
  double pair_seconds = 0;  // and of pair sums (the products and the ring)
  bool stopped = false;     // a signal stopped the run (every rank agrees)
};
BlockWork compute_blocks(const RunContext& run, const Plan& plan, const Reconciled& rec, const Placement& where,
                         const Inputs& in, const Models& models, const RunNumerics& num, const CheckpointStore& store);
// Every rank: the run stopped on a signal; its finished work is kept.
[[noreturn]] void throw_stopped(const CheckpointStore& store);

// 9. Matrices from the stored sums in block order (rank 0), broadcast; 10. the
//    result file, written collectively and renamed into place.
struct Matrices {
  std::vector<std::vector<double>> per_metric;  // M x M, in cfg.metrics order
  std::vector<int64_t> zero_norm_rows;          // M x M
};
Matrices compute_matrices(const RunContext& run, const Plan& plan, const std::string& fingerprint,
                          const CheckpointStore& store);
struct ResultFacts {  // what the result file records about the run
  const Placement& where;
  const Inputs& in;
  const Reconciled& rec;
  const RunNumerics& num;
  int64_t points = 0;
};
void write_result(const RunContext& run, const Plan& plan, const ResultFacts& facts, const Matrices& matrices,
                  const CheckpointStore& store);

// What the checkpoint holds for this run, from its files' headers (rank 0):
// finished rows and pieces (a complete shard, or a block whose sums cover the
// model), and blocks whose pair sums cover the zoo, for each kind needed.
struct WorkTally {
  int64_t rows = 0, pieces = 0, pair_blocks = 0;
  bool operator==(const WorkTally& o) const {
    return rows == o.rows && pieces == o.pieces && pair_blocks == o.pair_blocks;
  }
};
WorkTally tally_work(const RunConfig& cfg, const Plan& plan, const std::string& fingerprint,
                     const CheckpointStore& store);
// The report of `modelgif run --report PATH`. `state`: complete, stopped or
// failed; `before`/`now` (null when the checkpoint was not read yet): the
// tallies before the field phase and at exit. `progress: true` when this
// start finished new work.
void write_run_report(const RunConfig& cfg, const Plan& plan, const std::string& path, const std::string& state,
                      const WorkTally* before, const WorkTally* now);

// The sum kinds the configured metrics need, plain first.
std::vector<SumKind> sum_kinds(const RunConfig& cfg);

}  // namespace modelgif
