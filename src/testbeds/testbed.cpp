// Testbed configs (`modelgif zoo CONFIG`) and the dispatch to each zoo.
#include "testbeds/testbed.hpp"

#include <algorithm>
#include <set>

#include "base/files.hpp"
#include "inputs/fashion.hpp"
#include "inputs/rows.hpp"
#include "inputs/strict_yaml.hpp"
#include "modelgif/comm.hpp"
#include "modelgif/error.hpp"
#include "testbeds/zoos.hpp"

namespace modelgif {
namespace {

using Row = KeyRow<TestbedConfig>;
using Kind = KeyRule::Kind;

void parse_task(const std::string& t) {
  const auto all = relatedness_tasks();
  if (std::find(all.begin(), all.end(), t) == all.end()) throw_usage("unknown task '" + t + "'");
}

// The keys of a testbed config: counts.KIND for every kind of model a classifier zoo has.
const std::vector<Row>& testbed_rows() {
  static const std::vector<Row> rows = [] {
    std::vector<Row> r = {
        Row("testbed", Kind::String, "", "the testbed")
            .one_of({"fingerprinting", "unlearning", "relatedness"})
            .sets([](TestbedConfig& c, const KeyValue& v) { c.testbed = v.text; }),
        Row("dir", Kind::String, "", "the zoo's folder (its models, run.yaml and roles.yaml)")
            .non_empty()
            .sets([](TestbedConfig& c, const KeyValue& v) { c.dir = v.text; }),
        Row("data", Kind::String, "/usr/share/datasets/fashion-mnist", "the Fashion-MNIST folder")
            .sets([](TestbedConfig& c, const KeyValue& v) { c.data = v.text; }),
        Row("scale", Kind::Double, "1.0", "the fraction of the training images used")
            .above(0)
            .at_most(1)
            .sets([](TestbedConfig& c, const KeyValue& v) { c.scale = v.number(); }),
        Row("references", Kind::Int, "256", "references.count of the run config written")
            .at_least(1)
            .at_most(10000)
            .sets([](TestbedConfig& c, const KeyValue& v) { c.references = static_cast<int>(v.integer()); }),
        Row("steps", Kind::Int, "50", "field.steps of the run config written")
            .at_least(1)
            .at_most(1000000)
            .sets([](TestbedConfig& c, const KeyValue& v) { c.steps = static_cast<int>(v.integer()); }),
        Row("forget_class", Kind::Int, "0", "unlearning: the class the unlearned models forget")
            .at_least(0)
            .at_most(9)
            .sets([](TestbedConfig& c, const KeyValue& v) { c.forget_class = static_cast<int>(v.integer()); }),
        Row("tasks", Kind::StringList, "[]", "relatedness: the tasks, in order (none: all of them)")
            .parsed_by(parse_task)
            .distinct()
            .sets([](TestbedConfig& c, const KeyValue& v) { c.tasks = v.items; }),
        Row("shared_init", Kind::Bool, "false", "relatedness: every encoder from the same initialization")
            .sets([](TestbedConfig& c, const KeyValue& v) { c.shared_init = v.boolean(); }),
    };
    for (const auto& kind : zoo_kinds())
      r.push_back(
          Row("counts." + kind, Kind::Int, "0", "how many models of kind " + kind)
              .at_least(0)
              .at_most(1000)
              .sets([kind](TestbedConfig& c, const KeyValue& v) { c.counts[kind] = static_cast<int>(v.integer()); }));
    return r;
  }();
  return rows;
}

}  // namespace

TestbedConfig load_testbed(const std::string& path) {
  TestbedConfig c;
  c.text = read_text_file(path, "zoo config");
  const yaml::Document doc = yaml::Document::parse(c.text, "zoo config", path);
  const std::set<std::string> given = rows::load_rows(doc, doc.root(), testbed_rows(), c).given;
  // Checks across keys.
  const auto gave = [&](const std::string& key) { return given.count(key) > 0; };
  const bool counted =
      std::any_of(given.begin(), given.end(), [](const std::string& k) { return k.rfind("counts.", 0) == 0; });
  if (gave("tasks") && c.tasks.empty()) doc.fail("'tasks' is empty (leave it out for all tasks)");
  if (c.testbed == "relatedness") {
    if (counted) doc.fail("'counts' is not used by the relatedness testbed (use 'tasks')");
    if (c.tasks.empty()) c.tasks = relatedness_tasks();
    if (c.tasks.size() < 3) doc.fail("'tasks' needs at least 3 tasks");
  } else {
    for (const char* key : {"tasks", "shared_init"})
      if (gave(key)) doc.fail("'" + std::string(key) + "' is only for the relatedness testbed");
  }
  if (c.testbed != "unlearning" && gave("forget_class")) doc.fail("'forget_class' is only for the unlearning testbed");
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
