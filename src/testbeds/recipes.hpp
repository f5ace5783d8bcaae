// How each classifier of a zoo is made: one recipe per model, and one table
// of recipe kinds that every classifier zoo (the demo, fingerprinting,
// unlearning) trains through. A recipe is plain data, so a zoo is a list of
// recipes and its cache is keyed by what they say.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "testbeds/train.hpp"

namespace modelgif {

struct Recipe {
  std::string name;
  // The row of the kind table:
  //   train        a fresh `arch` from `init_seed` on its data (without `drop_class` when >= 0)
  //   finetune     `base` trained further on its data (after magnitude pruning when prune > 0)
  //   distill      a fresh `arch` trained on `base`'s soft labels at `temperature`
  //   extract      a fresh `arch` trained on `base`'s predicted labels
  //   adversarial  `base` fine-tuned on FGSM examples of size `epsilon` (in [0, 1] pixels)
  //   transfer     `base` with a new head for `classes` classes (label mod classes), from `init_seed`
  //   forget       `base` fine-tuned on a third of its data with random wrong labels on `drop_class`
  std::string kind;
  std::string base;            // the zoo model a derived recipe starts from (or learns from)
  std::string arch = "cnn_a";  // fresh models
  uint64_t init_seed = 0;      // fresh parameters, a new head, the forget relabelling
  int64_t lo = 0, count = 0;   // training images [lo, lo + count), scaled by the zoo's scale
  TrainSpec train;
  double prune = 0.0, epsilon = 0.0, temperature = 4.0;
  int64_t classes = 10;
  int64_t drop_class = -1;
  std::string how;  // one line for the log
};

// Fashion-MNIST, normalized, and the fraction of training images the zoo uses.
struct TrainingData {
  at::Tensor x, y, test_x, test_y;
  double scale = 1.0;
};
TrainingData load_training_data(const std::string& folder, double scale);

// Where the zoo keeps the model of a name (ZooFolder::model).
using ModelPath = std::function<std::string(const std::string& name)>;
// Makes the model of `recipe` (its base, if any, already saved where `path`
// says). Throws InternalError for a kind outside the table.
torch::jit::Module make_model(const Recipe& recipe, const TrainingData& data, const ModelPath& path);
// Test accuracy (on the recipe's label set).
double test_accuracy(const Recipe& recipe, torch::jit::Module& model, const TrainingData& data);

}  // namespace modelgif
