// The benchmark program, modelgif-bench (src/bench/): the field loop's
// throughput against the published loop's shape, measured side by side.
// main() only turns argv into strings and calls bench::run, so its help and
// its errors are testable in-process.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace modelgif::bench {

// args excludes the program name. Returns the process exit code; prints one
// line "modelgif-bench: error: ..." to `err` on failure.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace modelgif::bench
