// Run configuration: a YAML file plus command-line overrides of any key
// ("--field.steps 20"). Keys are checked strictly: unknown keys are refused
// with the nearest valid key suggested, duplicates are refused, every value is
// checked for type and range, and errors name the key.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "modelgif/distance.hpp"
#include "modelgif/field.hpp"

namespace modelgif {

// One configurable key, for --help and validation.
struct KeySpec {
  enum class Kind { Int, Double, Bool, String, IntList, DoubleList, StringList };
  std::string key;            // dotted: "field.steps"
  Kind kind;
  std::string default_yaml;   // YAML text of the default ("" = required or empty)
  std::string help;
};
const std::vector<KeySpec>& config_keys();

struct ZooEntry {
  std::string name;
  std::string path;
};

struct ReferenceConfig {
  std::string source;           // file.h5:/dataset, IDX(.gz) file, or image folder
  std::string labels;           // file.h5:/dataset or IDX labels file ("" = none / auto)
  int64_t count = 0;            // 0 = all
  bool random = false;          // select: random (seeded) instead of first
  uint64_t seed = 0;
  std::vector<int64_t> resize;  // [] or [H, W]
  int64_t channels = 0;         // 0 = as stored (image folders: 1 or 3)
  double scale = 1.0, shift = 0.0;
  std::vector<double> mean, std;  // per-channel, applied after scale/shift
  bool cutmix = false;            // paste a box of another reference into each (MODELGIF.md §6.1)
};

struct BaselineConfig {
  enum class Kind { Zeros, Constant, Shuffle };
  Kind kind = Kind::Zeros;
  double value = 0.0;
  uint64_t seed = 0;
  std::string str() const;
};

struct RunConfig {
  std::vector<ZooEntry> zoo;
  ReferenceConfig refs;
  FieldSpec field;
  BaselineConfig baseline;
  std::vector<Metric> metrics;
  std::string output_path;
  bool store_fields = false;
  bool half_fields = false;
  int64_t max_points = 0;  // 0 = tuned at start (tune_max_points)
  int64_t block = 64;
  int64_t threads = 0;  // 0 = all cores
  std::string device = "auto";
  std::string grid = "auto";
  double progress_interval = 30.0;
  std::string resolved_yaml;  // the full resolved config, written into the output
};

// Parses YAML text (`origin` names it in errors), applies overrides given as
// (dotted key, YAML value text), and validates. `zoo_override` entries are
// "name=path" and replace the zoo list when non-empty.
RunConfig load_config(const std::string& yaml_text, const std::string& origin,
                      const std::vector<std::pair<std::string, std::string>>& overrides = {},
                      const std::vector<std::string>& zoo_override = {});
RunConfig load_config_file(const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& overrides = {},
                           const std::vector<std::string>& zoo_override = {});

// The valid key nearest to `key` (edit distance), for "did you mean" hints.
std::string nearest_key(const std::string& key);

}  // namespace modelgif
