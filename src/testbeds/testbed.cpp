// Testbed configs (`modelgif zoo CONFIG`) and the dispatch to each zoo.
#include "testbeds/testbed.hpp"

#include <algorithm>
#include <sstream>

#include "base/files.hpp"
#include "inputs/fashion.hpp"
#include "inputs/strict_yaml.hpp"
#include "modelgif/comm.hpp"
#include "modelgif/error.hpp"
#include "testbeds/zoos.hpp"

namespace modelgif {

TestbedConfig load_testbed(const std::string& path) {
  TestbedConfig c;
  c.text = read_text_file(path, "zoo config");
  const yaml::Document doc = yaml::Document::parse(c.text, "zoo config", path);
  const YAML::Node& root = doc.root();
  doc.expect_map(
      root, "",
      {"testbed", "dir", "data", "counts", "scale", "references", "steps", "forget_class", "tasks", "shared_init"});
  c.testbed = doc.string(root["testbed"], "testbed");
  c.dir = doc.string(root["dir"], "dir");
  if (root["data"]) c.data = doc.string(root["data"], "data");
  if (root["scale"]) c.scale = doc.number(root["scale"], "scale");
  if (root["references"]) c.references = static_cast<int>(doc.integer(root["references"], "references", 1, 10000));
  if (root["steps"]) c.steps = static_cast<int>(doc.integer(root["steps"], "steps", 1, 1000000));
  if (root["forget_class"]) c.forget_class = static_cast<int>(doc.integer(root["forget_class"], "forget_class", 0, 9));
  if (root["shared_init"]) c.shared_init = doc.boolean(root["shared_init"], "shared_init");
  if (root["tasks"]) {
    const auto all = relatedness_tasks();
    const auto tasks = doc.strings(root["tasks"], "tasks");
    if (tasks.empty()) doc.fail("'tasks' is empty (leave it out for all tasks)");
    for (const auto& t : tasks) {
      if (std::find(all.begin(), all.end(), t) == all.end()) doc.fail("unknown task '" + t + "' in 'tasks'");
      if (std::find(c.tasks.begin(), c.tasks.end(), t) != c.tasks.end())
        doc.fail("duplicate task '" + t + "' in 'tasks'");
      c.tasks.push_back(t);
    }
  }
  if (const YAML::Node counts = root["counts"]) {
    const auto kinds = zoo_kinds();
    doc.expect_map(counts, "counts", kinds);
    for (const auto& e : counts)
      c.counts[e.first.Scalar()] = static_cast<int>(doc.integer(e.second, "counts." + e.first.Scalar(), 0, 1000));
  }
  if (c.testbed != "fingerprinting" && c.testbed != "unlearning" && c.testbed != "relatedness")
    doc.fail("testbed must be fingerprinting, unlearning or relatedness");
  if (c.testbed == "relatedness") {
    if (!c.counts.empty()) doc.fail("'counts' is not used by the relatedness testbed (use 'tasks')");
    if (c.tasks.empty()) c.tasks = relatedness_tasks();
    if (c.tasks.size() < 3) doc.fail("'tasks' needs at least 3 tasks");
  } else {
    for (const char* key : {"tasks", "shared_init"})
      if (root[key]) doc.fail("'" + std::string(key) + "' is only for the relatedness testbed");
  }
  if (c.testbed != "unlearning" && root["forget_class"]) doc.fail("'forget_class' is only for the unlearning testbed");
  if (c.dir.empty()) doc.fail("'dir' is required");
  if (!(c.scale > 0 && c.scale <= 1)) doc.fail("'scale' must be in (0, 1]");
  if (c.testbed == "fingerprinting" && c.counts["negatives"] < 2) doc.fail("counts.negatives must be >= 2");
  if (c.testbed == "unlearning" && (c.counts["direct"] < 1 || c.counts["approximate"] < 1 || c.counts["unrelated"] < 1))
    doc.fail("counts.direct, counts.approximate and counts.unrelated must be >= 1");
  return c;
}

TestbedConfig demo_testbed(const std::string& dir, const std::string& data) {
  TestbedConfig c;
  c.testbed = "demo";
  c.dir = dir;
  c.data = data;
  c.text = "testbed: demo\ndata: " + data + "\n";
  return c;
}

void run_zoo(const TestbedConfig& cfg, std::ostream& out) {
  const auto world = comm::Comm::world();
  comm::collective(world, [&] { require_fashion(cfg.data); });  // every rank sees the same folder
  if (cfg.testbed == "relatedness") return run_relatedness_zoo(cfg, world, out);
  run_classifier_zoo(cfg, world, out);
}

}  // namespace modelgif
