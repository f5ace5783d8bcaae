// Rank 0's progress report during the field phase: pieces done (counted from
// the checkpoint's files, so it covers every rank without messages), field
// throughput and ETA. A live bar on a terminal, plain periodic lines in a log:
// in a SLURM job or under an MPI launcher (launched_to_a_log), whose ranks'
// standard output is a pseudo-terminal even when it ends in a file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>

namespace modelgif {

bool launched_to_a_log();

class Progress {
 public:
  // `count_done`: the pieces done so far, all ranks (cheap: file names).
  Progress(std::function<int64_t()> count_done, int64_t total_pieces, int64_t points_per_piece, double interval_seconds,
           std::ostream& log, bool enabled);
  void tick();    // cheap unless the interval has passed
  void finish();  // ends the live bar

 private:
  void report(bool final);
  std::function<int64_t()> count_done_;
  int64_t total_, points_per_piece_, done_at_start_ = 0;
  double interval_;
  std::ostream& log_;
  bool enabled_, tty_ = false, printed_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace modelgif
