// The phases of one run and the state they share. run_pipeline
// (pipeline.cpp) calls them in order; every rank of the world calls every
// phase. An error that one rank meets outside a collective call is agreed on
// (comm::collective: every rank throws it, rank 0 reports); inside the ring
// exchange and the parallel output, where ranks wait on each other, an error
// ends the job through the CLI's MPI_Abort instead.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
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
#include "run/checkpoint.hpp"
#include "run/lock.hpp"
#include "run/plan.hpp"

namespace modelgif {

struct RunState {
  RunState(const RunConfig& config, const RunOptions& options, std::ostream& rank0_log);
  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;

  const RunConfig& cfg;
  const RunOptions& opt;
  comm::Comm world;
  std::ostream& log;  // rank 0: the caller's stream; other ranks: a sink
  Plan plan;
  c10::Device device{c10::kCPU};
  std::vector<std::string> placement;  // "rank r on HOST: DEVICE, T threads", every rank
  ReferenceSet refs;
  at::Tensor baselines;
  std::map<int64_t, Model> models;  // this rank's group, by zoo index
  Checkpoint ckpt;
  std::string fingerprint_text;  // what the run's fingerprint hashes
  int64_t max_points = 0;        // micro-batch bound, the same on every rank
  Numerics numerics;             // precision and memory format, the same on every rank
  RunSummary summary;
  std::vector<std::string> notes;                       // this rank's lines for the log (corrupt shards, caches)
  RunLock lock;                                         // rank 0: the run's lock on its checkpoint, held to the end
  bool made_checkpoint = false;                         // rank 0: this run created the checkpoint folder
  bool fields_started = false;                          // the field phase began
  std::vector<std::pair<std::string, double>> seconds;  // this rank's, per phase in order

  // Every rank: rank 0 prints every rank's notes, which are then cleared.
  void print_notes();

 private:
  std::ostringstream sink_;
};

// 1. Placement: the node-local rank picks the device; CPU ranks share the
//    node's cores. Every rank's line is gathered for the log and the output.
void place(RunState& run);
// 2. Output: rank 0 checks that output.path names a file that is no input
//    of the run, takes the run's lock (refusing at once when another run
//    holds it) and removes the temporaries of interrupted runs.
void claim_output(RunState& run);
// 2. Inputs: references (every rank loads them) and baselines; model
//    identities (rank 0 hashes the files: name@hash keys for every rank).
void load_inputs(RunState& run);
// 3. Plan: the grid and this rank's share; 4. its models, loaded, frozen and
//    shape-checked; the run's shape printed.
void plan_work(RunState& run);
void load_models(RunState& run);
// 5. Checkpoint: rank 0 checks the manifest against this run (refusing or,
//    with --recompute, discarding what does not match); the numerics are
//    chosen; rank 0 writes the manifest.
void reconcile_checkpoint(RunState& run);
// The micro-batch bound and memory format: configured, the checkpoint's
// (`found`, rank 0's), or timed by rank 0 on its first model; every rank's
// models are then converted to the run's numerics.
void choose_numerics(RunState& run, const Manifest& found);
// 6. Fields: each rank computes its (model, block) pieces into checkpoint
//    shards. Throws CheckpointedStop (exit 75) when a signal stopped it.
void compute_fields(RunState& run);
// Rank 0, when the run fails or stops: a checkpoint folder that this run made
// and that holds no finished work (the run was refused before the field
// phase) is removed, lock included: a refused run leaves nothing behind.
void remove_unused_checkpoint(const RunState& run) noexcept;
// Every rank: the run stopped on a signal; its finished shards are kept.
[[noreturn]] void throw_stopped(const RunState& run);
// 7. Pairs: per block, the shard's field blocks round a ring, pair sums
//    reduced and cached; cosine_standardized first reduces every model's
//    feature moments, then makes a second pass on standardized fields.
void compute_pairs(RunState& run);
// 8. Matrices from the caches in block order (rank 0), broadcast; 9. the
//    result file, written collectively and renamed into place.
struct Matrices {
  std::vector<std::vector<double>> per_metric;  // M x M, in cfg.metrics order
  std::vector<int64_t> zero_norm_rows;          // M x M
};
Matrices compute_matrices(RunState& run);
void write_result(RunState& run, const Matrices& matrices);

// What the checkpoint holds for this run, from its files' headers (rank 0):
// finished rows and pieces of the field shards, and blocks whose pair sums
// cover the zoo (for each kind the metrics need).
struct WorkTally {
  int64_t rows = 0, pieces = 0, pair_blocks = 0;
  bool operator==(const WorkTally& o) const {
    return rows == o.rows && pieces == o.pieces && pair_blocks == o.pair_blocks;
  }
};
WorkTally tally_work(const RunState& run);
// Rank 0: the report of `modelgif run --report PATH`. `state`: complete,
// stopped or failed; `before`/`now` (null when the checkpoint was not read
// yet): the tallies before the field phase and at exit. `progress: true` when
// this start finished new work.
void write_run_report(const RunState& run, const std::string& path, const std::string& state, const WorkTally* before,
                      const WorkTally* now);

// The pair phase of one kind of sums ("plain" or "standardized") on the
// shard's ranks; `transform` maps a model's field block before pairing.
struct PairCounts {
  int64_t computed = 0, reused = 0;  // (pair, block) units
};
using FieldTransform = std::function<at::Tensor(int64_t model, const at::Tensor& field)>;
PairCounts pair_phase(const std::string& kind, RunState& run, const comm::Comm& shard_comm,
                      const FieldTransform& transform);
// Rank 0: the zoo's sums of one kind over all blocks, from the caches in block
// order, so the result does not depend on the number of ranks.
DistanceAccumulator gather_pairs(const std::string& kind, const RunState& run);

}  // namespace modelgif
