// The classifier zoos, each a list of recipes trained through one path
// (testbeds/recipes.hpp, testbeds/zoo_cache.hpp):
//   fingerprinting  a source and its derived suspects (positives) against
//                   independently trained negatives (MODELGIF.md §6.2);
//   unlearning      a reference and models that forgot a class directly
//                   (retrained without it) or approximately (fine-tuned to forget),
//                   against unrelated seeds (§6.3);
//   demo            the built-in default: a source, three derived copies and
//                   three independent models, run on configs/demo.yaml.
#include <map>
#include <sstream>

#include "base/files.hpp"
#include "base/hash.hpp"
#include "demo_config.inc"  // generated from configs/demo.yaml: kDemoConfigText
#include "inputs/fashion.hpp"
#include "modelgif/config.hpp"
#include "modelgif/error.hpp"
#include "testbeds/zoo_cache.hpp"
#include "testbeds/zoos.hpp"

namespace modelgif {
namespace {

// Bump when a kind of the recipe table changes what it makes (the recipes
// themselves are part of the stamp).
const char* const kRecipesVersion = "classifier recipes 3";

const char* const kFingerprintKinds[] = {"finetune",    "prune",    "distill",  "extract",
                                         "adversarial", "transfer", "negatives"};
const char* const kUnlearningKinds[] = {"approximate", "direct", "unrelated"};

Recipe fresh(const std::string& name, const std::string& arch, uint64_t init_seed, int64_t lo, int64_t count,
             TrainSpec train, const std::string& how) {
  Recipe r;
  r.name = name, r.kind = "train", r.arch = arch, r.init_seed = init_seed, r.lo = lo, r.count = count;
  r.train = train, r.how = how;
  return r;
}

Recipe derived(const std::string& name, const std::string& kind, const std::string& base, int64_t lo, int64_t count,
               TrainSpec train, const std::string& how) {
  Recipe r;
  r.name = name, r.kind = kind, r.base = base, r.lo = lo, r.count = count, r.train = train, r.how = how;
  return r;
}

// Every model of a zoo gets a seed of its own: the fields of these small
// models carry their initialization, so two models that shared one (a
// distilled and an extracted student, say) would look related for that
// reason alone. `place` is the model's place in the zoo after its base
// (0-based); the base has seeds 1 and 11, which no 1000 + 17 k (nor one more)
// reaches.
uint64_t zoo_seed(int place) { return 1000 + static_cast<uint64_t>(place) * 17; }
// The third of the other half of train that the i-th model of a kind is fine-tuned on.
int64_t other_third(int i) { return 30000 + (i % 3) * 10000; }

// The i-th model of a kind (0-based; it sets the kind's own variations) at `place` in the zoo.
Recipe fingerprint_recipe(const std::string& kind, int i, int place) {
  const std::string name = kind + "-" + std::to_string(i + 1);
  const uint64_t seed = zoo_seed(place);
  if (kind == "finetune")
    return derived(name, "finetune", "source", other_third(i), 10000, {1, 3e-4 * (1 + i % 3), 128, seed, i % 2 == 1},
                   "source fine-tuned on 10k other images");
  if (kind == "prune") {
    Recipe r = derived(name, "finetune", "source", other_third(i), 10000, {1, 3e-4, 128, seed, false}, "");
    r.prune = 0.3 + 0.1 * (i % 6);
    r.how = "source pruned " + std::to_string(static_cast<int>(r.prune * 100)) + "% and fine-tuned";
    return r;
  }
  if (kind == "distill" || kind == "extract") {  // students of another architecture half the time
    const std::string arch = i % 2 == 0 ? "cnn_b" : "cnn_a";
    Recipe r = derived(name, kind, "source", 30000, 30000, {2, 1e-3, 128, seed, false},
                       kind == "distill" ? arch + " distilled from the source (soft labels, T = 4)"
                                         : arch + " trained on the source's predicted labels (label-only extraction)");
    r.arch = arch, r.init_seed = seed, r.temperature = 4.0;
    return r;
  }
  if (kind == "adversarial") {
    Recipe r = derived(name, "adversarial", "source", other_third(i), 10000, {1, 3e-4, 128, seed, false},
                       "source adversarially fine-tuned (FGSM)");
    r.epsilon = 0.05 + 0.05 * (i % 3);
    return r;
  }
  if (kind == "transfer") {  // 5 groups of the 10 classes, a new head
    Recipe r = derived(name, "transfer", "source", other_third(i), 10000, {1, 1e-3, 128, seed, false},
                       "source transferred to a 5-class label set (new head, fine-tuned)");
    r.init_seed = seed, r.classes = 5;
    return r;
  }
  // negatives: independent models, other seeds, architectures and data
  const std::string arch = i % 2 == 0 ? "cnn_a" : "cnn_b";
  return fresh(name, arch, seed, (i % 2) * 30000, 30000, {2, 1e-3, 128, seed, false}, arch + " trained independently");
}

Recipe unlearning_recipe(const std::string& kind, int i, int place, int forget) {
  const std::string name = kind + "-" + std::to_string(i + 1);
  const uint64_t seed = zoo_seed(place);
  if (kind == "approximate") {  // the reference fine-tuned with random wrong labels on the forgotten class
    Recipe r = derived(name, "forget", "reference", 0, 60000, {1, 3e-4, 128, seed, false},
                       "reference fine-tuned with random labels on class " + std::to_string(forget));
    r.init_seed = seed, r.drop_class = forget;
    return r;
  }
  if (kind == "direct") {  // retrained from scratch without the forgotten class
    Recipe r = fresh(name, "cnn_a", seed, 0, 60000, {2, 1e-3, 128, seed, false},
                     "cnn_a retrained without class " + std::to_string(forget));
    r.drop_class = forget;
    return r;
  }
  return fresh(name, "cnn_a", seed, 0, 60000, {2, 1e-3, 128, seed + 1, false},
               "cnn_a trained on all of train, another seed");
}

std::vector<Recipe> demo_recipes() {
  Recipe pruned = derived("pruned-50", "finetune", "source", 30000, 10000, {1, 3e-4, 128, 14, false},
                          "source, 50% weights pruned, fine-tuned on train[30000:40000]");
  pruned.prune = 0.5;
  return {fresh("source", "cnn_a", 1, 0, 30000, {2, 1e-3, 128, 11, false}, "cnn_a, seed 1, train[0:30000], 2 epochs"),
          derived("finetune-1", "finetune", "source", 30000, 15000, {1, 3e-4, 128, 12, false},
                  "source fine-tuned on train[30000:45000]"),
          derived("finetune-2", "finetune", "source", 45000, 15000, {1, 3e-4, 128, 13, true},
                  "source fine-tuned on train[45000:60000] with flips"),
          pruned,
          fresh("indep-a1", "cnn_a", 2, 30000, 30000, {2, 1e-3, 128, 21, false},
                "cnn_a, seed 2, train[30000:60000], 2 epochs"),
          fresh("indep-a2", "cnn_a", 3, 0, 30000, {2, 1e-3, 128, 31, false}, "cnn_a, seed 3, train[0:30000], 2 epochs"),
          fresh("indep-b1", "cnn_b", 4, 0, 60000, {1, 1e-3, 128, 41, false}, "cnn_b, seed 4, train[0:60000], 1 epoch")};
}

// Everything a recipe says, as text: part of the zoo's cache stamp.
std::string recipe_text(const std::vector<Recipe>& recipes) {
  std::ostringstream s;
  s.precision(17);
  for (const auto& r : recipes)
    s << r.name << " " << r.kind << " " << r.base << " " << r.arch << " " << r.init_seed << " " << r.lo << " "
      << r.count << " " << r.train.epochs << " " << r.train.lr << " " << r.train.batch << " " << r.train.seed << " "
      << r.train.flip << " " << r.prune << " " << r.epsilon << " " << r.temperature << " " << r.classes << " "
      << r.drop_class << "\n";
  return s.str();
}

std::vector<std::string> names_of(const std::vector<Recipe>& recipes, const std::string& prefix = "") {
  std::vector<std::string> v;
  for (const auto& r : recipes)
    if (prefix.empty() || r.name.rfind(prefix + "-", 0) == 0) v.push_back(r.name);
  return v;
}

YAML::Node roles_of(const TestbedConfig& cfg, const std::vector<Recipe>& recipes) {
  YAML::Node roles;
  if (cfg.testbed == "unlearning") {
    YAML::Node u;
    u["reference"] = "reference";
    for (const char* kind : kUnlearningKinds) u[kind] = yaml_list(names_of(recipes, kind));
    roles["unlearning"] = u;
    return roles;
  }
  YAML::Node f;
  f["source"] = "source";
  YAML::Node positives;
  if (cfg.testbed == "demo") {  // derived from the source: positives by kind; trained apart: negatives
    std::map<std::string, std::vector<std::string>> kinds;
    std::vector<std::string> negatives;
    for (const auto& r : recipes)
      if (r.base == "source")
        kinds[r.prune > 0 ? "prune" : r.kind].push_back(r.name);
      else if (r.name != "source")
        negatives.push_back(r.name);
    for (const auto& [kind, names] : kinds) positives[kind] = yaml_list(names);
    f["positives"] = positives;
    f["negatives"] = yaml_list(negatives);
  } else {
    for (const char* kind : kFingerprintKinds)
      if (std::string(kind) != "negatives" && cfg.counts.count(kind) && cfg.counts.at(kind) > 0)
        positives[kind] = yaml_list(names_of(recipes, kind));
    f["positives"] = positives;
    f["negatives"] = yaml_list(names_of(recipes, "negatives"));
  }
  roles["fingerprinting"] = f;
  return roles;
}

// DIR/run.yaml: the demo runs the built-in configs/demo.yaml on its zoo; the
// testbeds their own setting (target predicted, or label for unlearning).
void write_run_config(const TestbedConfig& cfg, const ZooFolder& zoo, const std::vector<std::string>& names) {
  if (cfg.testbed == "demo") {
    std::vector<std::string> entries;
    for (const auto& n : names) entries.push_back(n + "=" + zoo.model(n));
    const RunConfig run = load_config(
        kDemoConfigText, "configs/demo.yaml",
        {{"references.source", fashion_test_images(cfg.data)}, {"output.path", zoo.dir() + "/demo.h5"}}, entries);
    write_text_atomic(zoo.dir() + "/run.yaml",
                      "# written by modelgif demo: configs/demo.yaml on the demo zoo\n" + run.resolved_yaml + "\n");
    return;
  }
  YAML::Node field;
  field["target"] = cfg.testbed == "unlearning" ? "label" : "predicted";
  zoo.write_yaml("run.yaml", testbed_run_config(zoo, names, cfg.data, cfg.references, cfg.steps, field, true),
                 "written by modelgif zoo: the " + cfg.testbed + " testbed");
}

}  // namespace

std::vector<Recipe> zoo_recipes(const TestbedConfig& cfg) {
  if (cfg.testbed == "demo") return demo_recipes();
  std::vector<Recipe> out;
  if (cfg.testbed == "unlearning") {
    out.push_back(fresh("reference", "cnn_a", 1, 0, 60000, {2, 1e-3, 128, 11, false}, "cnn_a trained on all of train"));
    for (const char* kind : kUnlearningKinds)
      for (int i = 0; i < (cfg.counts.count(kind) ? cfg.counts.at(kind) : 0); ++i)
        out.push_back(unlearning_recipe(kind, i, static_cast<int>(out.size()) - 1, cfg.forget_class));
    return out;
  }
  out.push_back(fresh("source", "cnn_a", 1, 0, 30000, {2, 1e-3, 128, 11, false}, "cnn_a trained on train[0:30000]"));
  for (const char* kind : kFingerprintKinds)
    for (int i = 0; i < (cfg.counts.count(kind) ? cfg.counts.at(kind) : 0); ++i)
      out.push_back(fingerprint_recipe(kind, i, static_cast<int>(out.size()) - 1));
  return out;
}

std::vector<std::string> zoo_kinds() {
  std::vector<std::string> v(std::begin(kFingerprintKinds), std::end(kFingerprintKinds));
  v.insert(v.end(), std::begin(kUnlearningKinds), std::end(kUnlearningKinds));
  return v;
}

void run_classifier_zoo(const TestbedConfig& cfg, const comm::Comm& world, std::ostream& out) {
  const std::vector<Recipe> recipes = zoo_recipes(cfg);
  const ZooFolder zoo(cfg.dir,
                      hex64(fnv1a(cfg.text)) + " " + kRecipesVersion + " " + hex64(fnv1a(recipe_text(recipes))));
  zoo.prepare(world, out);
  bool missing = false;
  for (const auto& r : recipes) missing = missing || !zoo.has(r.name);
  missing = world.allreduce_max(missing ? 1 : 0) > 0;  // every rank trains, or none
  if (missing) {
    if (world.rank() == 0)
      out << "zoo: training " << recipes.size() << " models into " << zoo.models() << " (once; cached)\n";
    train_missing(recipes, load_training_data(cfg.data, cfg.scale), zoo, world, out);
  }
  comm::on_root(&world, [&] {  // every rank returns once they are written
    out << "zoo: " << recipes.size() << " models in " << zoo.models() << (missing ? "\n" : " (cached)\n");
    write_run_config(cfg, zoo, names_of(recipes));
    zoo.write_yaml("roles.yaml", roles_of(cfg, recipes));
  });
}

}  // namespace modelgif
