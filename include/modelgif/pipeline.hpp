// One run: load the zoo and references, compute every model's field block by
// block, accumulate the pairwise distance sums, write the result file.
// Work is organised as independent (model, reference block) pieces whose
// distance sums merge by addition: the shape the MPI pipeline distributes.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "modelgif/config.hpp"

namespace modelgif {

struct RunSummary {
  std::vector<std::string> names;
  std::vector<Metric> metrics;
  std::vector<std::vector<double>> matrices;  // per metric, M x M
  int64_t references = 0;
  int64_t points = 0;    // path points evaluated (forward + backward)
  double seconds = 0.0;  // field computation time
  int threads = 0;
  std::string device;
};

RunSummary run_pipeline(const RunConfig& cfg, std::ostream& log);

}  // namespace modelgif
