// The built-in default: a small real zoo trained on Fashion-MNIST (cached),
// and a run of configs/demo.yaml on it.
#pragma once

#include <ostream>
#include <string>

namespace modelgif {

// Names of the demo zoo, the source first; derived models then independent ones.
extern const char* const kDemoSource;
extern const char* const kDemoDerived[3];
extern const char* const kDemoIndependent[3];

// Trains the zoo into `dir` unless a complete cache with the same recipe is
// there. Returns true when it trained.
bool ensure_demo_zoo(const std::string& dir, const std::string& data, std::ostream& log);

// ensure_demo_zoo(dir/zoo), run the demo config, print the matrix and the
// derived-vs-independent check. Returns 0 when the check passes.
int run_demo(const std::string& dir, const std::string& data, int threads, std::ostream& out);

// The text of configs/demo.yaml, built into the program.
const char* demo_config_text();

}  // namespace modelgif
