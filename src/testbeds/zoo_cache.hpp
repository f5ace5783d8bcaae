// A testbed zoo's folder and its cache, shared by every zoo (the demo,
// fingerprinting, unlearning, relatedness):
//   DIR/RECIPE      the stamp of what the models were made from (config text, recipes)
//   DIR/models/     NAME.pt, each saved atomically: a model file that exists is complete
//   DIR/run.yaml    the field run on the zoo; DIR/roles.yaml: which model plays which part
// Models made from the same stamp are reused; a changed stamp removes the
// models and everything made from them.
#pragma once

#include <torch/script.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "modelgif/comm.hpp"
#include "testbeds/recipes.hpp"

namespace modelgif {

class ZooFolder {
 public:
  // `stamp`: everything the models depend on, as text.
  ZooFolder(std::string dir, std::string stamp);
  const std::string& dir() const { return dir_; }
  std::string models() const { return dir_ + "/models"; }
  std::string model(const std::string& name) const { return models() + "/" + name + ".pt"; }
  bool has(const std::string& name) const;
  // Rank 0 empties the folder when the stamp changed and writes the new one;
  // every rank returns once it is ready (an error on rank 0 reaches them all).
  void prepare(const comm::Comm& world, std::ostream& out) const;
  void save(torch::jit::Module& model, const std::string& name) const;  // atomically
  // DIR/<file>, written atomically; a comment line first when given.
  void write_yaml(const std::string& file, const YAML::Node& node, const std::string& comment = "") const;

 private:
  std::string dir_, stamp_;
};

// "12 s": the whole seconds since t0, for the zoos' progress lines.
std::string seconds_since(std::chrono::steady_clock::time_point t0);

// Trains every recipe whose model is missing, one model per rank at a time:
// recipes with no base first, then those that derive from them, and so on
// (every rank waits for a wave's bases; a recipe comes after its base in the
// list). One log line per model.
void train_missing(const std::vector<Recipe>& recipes, const TrainingData& data, const ZooFolder& zoo,
                   const comm::Comm& world, std::ostream& out);

// The field run of a testbed zoo: the models `names`, `references` random test
// images of Fashion-MNIST in `data`, normalized as the zoo was trained, `steps`
// Gauss-Legendre steps, a zero baseline, cosine and euclidean distances, the
// result in DIR/out.h5. `field` adds keys (target, reduce_channels).
YAML::Node testbed_run_config(const ZooFolder& zoo, const std::vector<std::string>& names, const std::string& data,
                              int references, int steps, const YAML::Node& field, bool store_fields);

// A YAML list of strings.
YAML::Node yaml_list(const std::vector<std::string>& items);
// A number as YAML text with 6 significant digits (how the zoos write them).
std::string yaml_number(double v);

}  // namespace modelgif
