// Run configuration: a YAML file plus command-line overrides of any key
// ("--field.steps 20"). Keys are checked strictly: unknown keys are refused
// with the nearest valid key suggested, duplicates are refused, every value is
// checked for type and range, and errors name the key.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "modelgif/distance.hpp"
#include "modelgif/field.hpp"
#include "modelgif/keys.hpp"

namespace modelgif {

struct RunConfig;

// One configurable key: a row of the table that drives --help, validation,
// defaults, did-you-mean, the configuration reference (`modelgif config
// --reference`) and the RunConfig member it sets (modelgif/keys.hpp).
using KeySpec = KeyRow<RunConfig>;
// Every key, section by section (references, field, distance, output,
// checkpoint, run), in the reference's order.
const std::vector<KeySpec>& config_keys();

// `field.preset`: a named set of field.* values (the attribution maps the
// paper compares against). Keys a preset sets may not be set otherwise.
struct FieldPreset {
  std::string name, summary;
  std::vector<std::pair<std::string, std::string>> keys;  // key, canonical value
};
const std::vector<FieldPreset>& field_presets();

struct ZooEntry {
  std::string name;
  std::string path;
};

struct ReferenceConfig {
  std::string source;   // file.h5:/dataset, IDX(.gz) file, or image folder
  std::string labels;   // file.h5:/dataset or IDX labels file ("" = none / auto)
  int64_t count = 0;    // 0 = all
  bool random = false;  // select: random (seeded) instead of first
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

// checkpoint.fields: what the checkpoint keeps of the fields once their pair
// sums are made: every shard (keep), or nothing (none: only sums and moments).
enum class CheckpointFields { Keep, None };

// run.grid: auto (groups = shards = 0), or G model groups x R reference shards.
struct Grid {
  int groups = 0, shards = 0;
  bool automatic() const { return groups == 0; }
  int used() const { return groups * shards; }
  std::string str() const { return automatic() ? "auto" : std::to_string(groups) + "x" + std::to_string(shards); }
};
// "auto" or "GxR" (both >= 1); UsageError for anything else.
Grid parse_grid(const std::string& spec);

// run.device: auto (the node-local rank's CUDA device when there is one), cpu,
// cuda (the node-local rank's) or cuda:N.
struct DeviceSpec {
  enum class Kind { Auto, Cpu, Cuda } kind = Kind::Auto;
  int index = -1;  // cuda:N
  std::string str() const;
};
DeviceSpec parse_device_spec(const std::string& spec);  // UsageError for anything else

struct RunConfig {
  std::vector<ZooEntry> zoo;
  ReferenceConfig refs;
  FieldSpec field;
  BaselineConfig baseline;
  std::vector<Metric> metrics;
  std::string output_path;
  bool store_fields = false;
  bool pictures = true;  // output.pictures: heatmap and tree per metric beside the output
  bool half_fields = false;
  CheckpointFields checkpoint_fields = CheckpointFields::Keep;
  int64_t max_points = 0;  // 0 = tuned at start (tune_max_points)
  int64_t block = 64;
  int64_t threads = 0;                            // 0 = all cores
  at::ScalarType precision = at::kFloat;          // the model's: float32 or bfloat16
  std::optional<at::MemoryFormat> memory_format;  // contiguous or channels_last; none: auto (timed)
  DeviceSpec device;
  Grid grid;
  double progress_interval = 30.0;
  std::string resolved_yaml;  // the full resolved config, written into the output
  std::string origin;         // the config file it was read from ("" when none): an input of the run

  bool wants(Metric m) const { return std::find(metrics.begin(), metrics.end(), m) != metrics.end(); }
};

// Parses YAML text (`origin` names it in errors), applies overrides given as
// (dotted key, YAML value text), and validates. `zoo_override` entries are
// "name=path" and replace the zoo list when non-empty.
// `overrides_source` names where the overrides come from in errors.
RunConfig load_config(const std::string& yaml_text, const std::string& origin,
                      const std::vector<std::pair<std::string, std::string>>& overrides = {},
                      const std::vector<std::string>& zoo_override = {},
                      const std::string& overrides_source = "command line");
RunConfig load_config_file(const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& overrides = {},
                           const std::vector<std::string>& zoo_override = {});

// The configuration reference: every key's row as a Markdown table (key,
// default, what it is, the values it takes), in table order.
std::string config_reference();

}  // namespace modelgif
