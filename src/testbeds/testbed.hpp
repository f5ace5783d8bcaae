// The paper's testbeds on real models (MODELGIF.md §6), trained with LibTorch
// on Debian's Fashion-MNIST: `modelgif zoo CONFIG` trains the zoo a testbed
// config describes (cached; one model per MPI rank) and writes the run config
// and the roles for `modelgif eval`. The built-in demo zoo is one more testbed.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace modelgif {

struct TestbedConfig {
  std::string testbed;  // fingerprinting, unlearning, relatedness, or demo (built in)
  std::string dir, data = "/usr/share/datasets/fashion-mnist";
  std::map<std::string, int> counts;  // kind -> number of models (every kind: 0 = none)
  double scale = 1.0;                 // fraction of training images
  int references = 256, steps = 50;
  int forget_class = 0;            // unlearning
  std::vector<std::string> tasks;  // relatedness (default: all of relatedness_tasks())
  bool shared_init = false;        // relatedness: every encoder from the same initialization (an ablation)
  std::string text;                // the file's text (for the cache stamp)
};

// The task-relatedness testbed's tasks, in their default order.
std::vector<std::string> relatedness_tasks();

TestbedConfig load_testbed(const std::string& path);
// The demo zoo (`modelgif demo`) in DIR, trained on the Fashion-MNIST in DATA.
TestbedConfig demo_testbed(const std::string& dir, const std::string& data);

// Trains what is missing; writes DIR/run.yaml and DIR/roles.yaml.
void run_zoo(const TestbedConfig& cfg, std::ostream& out);

}  // namespace modelgif
