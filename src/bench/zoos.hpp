// The zoos modelgif-bench writes instead of measuring (--save-zoo,
// --save-taskonomy): models and a run config for timing whole runs.
#pragma once

#include <ostream>
#include <string>

namespace modelgif::bench {

// `count` freshly initialized models of `arch` (seeds 100, 101, ...) and a
// run config over them, for timing whole runs (ranks, threads, phases).
void save_zoo(const std::string& dir, const std::string& arch, int count, std::ostream& out);

// The paper's task-relatedness shapes, tiny: `count` encoders 3x128x128 ->
// 8x16x16 (three stride-2 convolutions), `refs` seeded references in [-1, 1]
// and a run config (target topk:1, channel mean, 50 steps: D = 16384), so
// that the pipeline's own costs show (tests/bench/taskonomy.sh).
void save_taskonomy_zoo(const std::string& dir, int count, int refs, std::ostream& out);

}  // namespace modelgif::bench
