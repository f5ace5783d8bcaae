// `modelgif status`: a run's progress read from its checkpoint alone (no MPI).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "run/lock.hpp"

namespace modelgif {

struct RunStatus {
  std::string checkpoint, output;
  bool output_complete = false;                // the output exists and is a modelgif result
  bool has_manifest = true;                    // false: a checkpoint without its manifest, or none at all
  int64_t loose_shards = 0, loose_caches = 0;  // files of a checkpoint without a manifest
  std::string holder;                          // the run holding the lock, "" when none
  Temporaries temporaries;                     // left by interrupted runs
  std::string fingerprint, fingerprint_text;
  int64_t references = 0, blocks = 0, block = 0, max_points = 0;
  struct ModelProgress {
    std::string name;
    int64_t done = 0, partial = 0, corrupt = 0;  // blocks
  };
  std::vector<ModelProgress> models;  // zoo order of the latest run
  int64_t pair_blocks = 0;            // blocks whose plain pair sums cover the zoo
  bool fields_kept = true;            // checkpoint.fields of the latest run: keep
  bool verified = false;              // every shard's data was read and its checksum checked
  int64_t pieces_left() const;
};

// RUN: an output file (its checkpoint is RUN.ckpt), a .ckpt folder. Shards
// are judged by their headers and sizes; `verify` reads their data and checks
// their checksums too (a damaged shard then counts as corrupt).
RunStatus read_status(const std::string& run, bool verify = false);
// Prints one run, or every run found one or two levels below a folder (a
// sweep): a run whose checkpoint cannot be read gets its line, the others are
// listed, and then an InputError says how many could not be read.
void print_status(const std::string& run, std::ostream& out, bool verify = false);

}  // namespace modelgif
