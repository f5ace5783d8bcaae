// One run, on P >= 1 MPI ranks (a single process is P = 1). Ranks form a grid
// of model groups x reference shards. Fields: each rank computes the fields of
// its (model, reference block) pieces into checkpoint shards. Pairs: ranks of
// the same reference shard pass their field blocks round a ring so that every
// pair of models meets once per block; the per-block pair sums are reduced
// and cached. Output: all ranks write the result file with parallel HDF5.
// The phases, in order, are in src/run/phases.hpp.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "modelgif/config.hpp"

namespace modelgif {

struct RunOptions {
  bool recompute = false;  // discard checkpoint parts that do not match instead of refusing
  // When set, rank 0 writes there at exit what this run finished and what is
  // left (`modelgif run --report`; the batch script requeues while starts
  // finish new work): key: value lines, see write_run_report.
  std::string report_path;
};

struct RunSummary {
  std::vector<std::string> names;
  std::vector<Metric> metrics;
  std::vector<std::vector<double>> matrices;  // per metric, M x M
  int64_t references = 0;
  int64_t points = 0;    // path points evaluated in this run (all ranks)
  double seconds = 0.0;  // field computing time (largest rank)
  int threads = 0;       // of rank 0
  std::string device;    // of rank 0
  int ranks = 1;
  std::string grid;  // "GxR"
  int64_t pieces_computed = 0, pieces_reused = 0, pieces_resumed = 0, pieces_corrupt = 0;
  int64_t pieces_again = 0;                      // computed again: checkpoint.fields: none keeps no fields
  int64_t pairs_computed = 0, pairs_reused = 0;  // (pair, block) units
  // Wall seconds per phase ("load", "tune", "fields and pairs", "output"),
  // over the ranks; "fields work" and "pairs work" are the computing inside
  // the block phase (a gap to its wall time is waiting: imbalance, I/O).
  struct PhaseTime {
    std::string phase;
    double max = 0, mean = 0;
  };
  std::vector<PhaseTime> phase_seconds;
  // Bytes read and written through system calls (page cache included), all
  // ranks, and the largest rank's peak resident memory.
  double read_mb = 0, written_mb = 0, peak_rss_mb = 0;
  int64_t shards_read = 0;  // field shards read (all ranks): each at most once, and once more for store_fields
};

RunSummary run_pipeline(const RunConfig& cfg, std::ostream& log, const RunOptions& opt = {});

}  // namespace modelgif
