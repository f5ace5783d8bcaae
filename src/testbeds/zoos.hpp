// The zoos behind `modelgif zoo` and `modelgif demo` (testbed.cpp dispatches).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "modelgif/comm.hpp"
#include "testbeds/recipes.hpp"
#include "testbeds/testbed.hpp"

namespace modelgif {

// The kinds a classifier testbed config counts (fingerprinting and unlearning).
std::vector<std::string> zoo_kinds();
// Every recipe of a classifier zoo (fingerprinting, unlearning, the demo), each base first.
std::vector<Recipe> zoo_recipes(const TestbedConfig& cfg);
// Fingerprinting, unlearning and the demo: a list of classifier recipes.
void run_classifier_zoo(const TestbedConfig& cfg, const comm::Comm& world, std::ostream& out);
// Task relatedness: one encoder per task, then the transfer affinity.
void run_relatedness_zoo(const TestbedConfig& cfg, const comm::Comm& world, std::ostream& out);

}  // namespace modelgif
