// `modelgif status`: a run's progress read from its checkpoint alone (no MPI).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace modelgif {

struct RunStatus {
  std::string checkpoint, output;
  bool output_complete = false;
  std::string fingerprint, fingerprint_text;
  int64_t references = 0, blocks = 0, block = 0, max_points = 0;
  struct ModelProgress {
    std::string name;
    int64_t done = 0, partial = 0, corrupt = 0;  // blocks
  };
  std::vector<ModelProgress> models;  // zoo order of the latest run
  int64_t pair_blocks = 0;            // blocks with cached plain pair sums
  int64_t pieces_left() const;
};

// RUN: an output file (its checkpoint is RUN.ckpt), a .ckpt folder.
RunStatus read_status(const std::string& run);
// Prints one run, or every run found one level below a folder (sweeps).
void print_status(const std::string& run, std::ostream& out);

}  // namespace modelgif
