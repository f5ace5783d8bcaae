// Sweeps: one base run config and a list (or grid) of variations, each a set of
// config keys. Each variation is a run of its own under the sweep's folder:
// DIR/<name>/run.yaml, DIR/<name>/out.h5 (+ .ckpt). On SLURM a sweep is one job
// array plus a dependent collect job (see `modelgif sweep`).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "modelgif/config.hpp"
#include "modelgif/result.hpp"

namespace modelgif {

struct Variation {
  std::string name;
  std::vector<std::pair<std::string, std::string>> set;  // dotted key -> YAML value text
  RunConfig config;                                      // base + set, output in DIR/<name>/out.h5
  std::string config_path() const;                       // DIR/<name>/run.yaml
  // The variation's result when out.h5 exists and was made from this config.
  std::optional<RunResult> result() const;
  bool complete() const { return result().has_value(); }
};

struct Sweep {
  std::string name, base, dir;
  std::vector<Variation> variations;
};

// Reads and validates a sweep file (strict keys; errors name the variation).
Sweep load_sweep(const std::string& path);
// Writes every variation's run.yaml (its resolved config).
void write_variation_configs(const Sweep& sweep);

// The variations whose result is not there yet (in the sweep's order).
std::vector<const Variation*> pending_variations(const Sweep& sweep);
// `sweep list`: a line per variation, "complete" or "pending", with its output.
std::string sweep_listing(const Sweep& sweep);
// The job array's list of run configs (one line per array task, in order):
// DIR/pending.list, written by write_pending_list.
std::string pending_list_path(const Sweep& sweep);
void write_pending_list(const Sweep& sweep, const std::vector<const Variation*>& pending);

struct SweepSummary {
  std::string table;  // printed
  std::string csv;    // DIR/summary.csv
  int complete = 0;
};
// Gathers every complete variation's result into DIR/summary.csv and
// DIR/summary.h5 and returns the table.
SweepSummary collect_sweep(const Sweep& sweep);

}  // namespace modelgif
