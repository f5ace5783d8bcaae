#include "analysis/sweep.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <iomanip>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "base/files.hpp"
#include "base/text.hpp"
#include "inputs/rows.hpp"
#include "inputs/strict_yaml.hpp"
#include "modelgif/error.hpp"
#include "run/result_file.hpp"

namespace fs = std::filesystem;

namespace modelgif {
namespace {

// A name usable as a folder: letters, digits, '-', '_', '.', '=', '+'.
std::string folder_name(std::string s) {
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '=' && c != '+')
      c = '_';
  return s;
}

using Kind = KeyRule::Kind;
using Settings = std::vector<std::pair<std::string, std::string>>;  // dotted key -> YAML value text
using Named = std::vector<std::pair<std::string, Settings>>;

// The header: `sweep: {name, base, dir}`.
const std::vector<KeyRow<Sweep>>& sweep_rows() {
  static const std::vector<KeyRow<Sweep>> rows = {
      KeyRow<Sweep>("sweep.name", Kind::String, "", "the sweep's name (default: the file's stem)")
          .sets([](Sweep& s, const KeyValue& v) { s.name = v.text; }),
      KeyRow<Sweep>("sweep.base", Kind::String, "", "the run config to vary")
          .non_empty()
          .sets([](Sweep& s, const KeyValue& v) { s.base = v.text; }),
      KeyRow<Sweep>("sweep.dir", Kind::String, "", "the sweep's folder (default: runs/sweeps/NAME)")
          .sets([](Sweep& s, const KeyValue& v) { s.dir = v.text; }),
  };
  return rows;
}

// An item of `variations`: its name (its `set` maps config keys, read whole).
const std::vector<KeyRow<Variation>>& variation_rows() {
  static const std::vector<KeyRow<Variation>> rows = {
      KeyRow<Variation>("name", Kind::String, "", "the variation's name, its folder in the sweep's")
          .non_empty()
          .sets([](Variation& var, const KeyValue& v) { var.name = v.text; }),
  };
  return rows;
}

// `variations`: a list of {name, set}.
void read_variations(const yaml::Document& doc, const YAML::Node* given, Named& list) {
  if (!given || given->IsNull()) return;
  const YAML::Node& variations = *given;
  if (!variations.IsSequence()) doc.fail("'variations' must be a list of {name, set}");
  for (size_t i = 0; i < variations.size(); ++i) {
    const std::string key = "variations[" + std::to_string(i + 1) + "]";
    Variation v;
    const rows::Loaded item = rows::load_rows(doc, variations[i], variation_rows(), v, {"set"}, key);
    if (const YAML::Node* set = item.part("set"); set && !set->IsNull()) {
      if (!set->IsMap()) doc.fail("key '" + key + ".set' must map config keys to values");
      for (const auto& e : *set) v.set.emplace_back(e.first.Scalar(), yaml::flow_text(e.second));
    }
    list.emplace_back(v.name, v.set);
  }
}

// `grid`: the cartesian product of the listed values, in order.
void expand_grid(const yaml::Document& doc, const YAML::Node* given, Named& list) {
  if (!given || given->IsNull()) return;
  const YAML::Node& grid = *given;
  if (!grid.IsMap()) doc.fail("'grid' must map config keys to lists of values");
  std::vector<Settings> combos = {Settings{}};
  for (const auto& kv : grid) {
    const std::string key = kv.first.Scalar();
    if (!kv.second.IsSequence() || kv.second.size() == 0)
      doc.fail("grid key '" + key + "' needs a non-empty list of values");
    std::vector<Settings> next;
    for (const auto& c : combos)
      for (const auto& v : kv.second) {
        auto d = c;
        d.emplace_back(key, yaml::flow_text(v));
        next.push_back(d);
      }
    combos = next;
  }
  for (const auto& c : combos) {
    std::string name;
    for (const auto& [k, v] : c) name += (name.empty() ? "" : "+") + k.substr(k.rfind('.') + 1) + "=" + v;
    list.emplace_back(folder_name(name), c);
  }
}

}  // namespace

std::string Variation::config_path() const {
  return (fs::path(config.output_path).parent_path() / "run.yaml").string();
}

std::optional<RunResult> Variation::result() const {
  std::error_code ec;
  if (!fs::is_regular_file(config.output_path, ec)) return std::nullopt;
  try {
    RunResult r = read_result(config.output_path);
    if (r.config == config.resolved_yaml) return r;  // the same config
  } catch (const Error&) {
  }
  return std::nullopt;
}

Sweep load_sweep(const std::string& path) {
  const yaml::Document doc = yaml::Document::load(path, "sweep");
  Sweep s;
  const rows::Loaded loaded = rows::load_rows(doc, doc.root(), sweep_rows(), s, {"variations", "grid"});
  if (s.name.empty()) s.name = fs::path(path).stem().string();
  if (s.dir.empty()) s.dir = "runs/sweeps/" + s.name;
  Named list;
  read_variations(doc, loaded.part("variations"), list);
  expand_grid(doc, loaded.part("grid"), list);
  if (list.empty()) doc.fail("no variations (give 'variations' or 'grid')");

  const std::string base_text = read_text_file(s.base, "sweep base config");
  std::set<std::string> names;
  for (const auto& [name, set] : list) {
    if (name != folder_name(name) || name.empty() || name == "." || name == "..")
      doc.fail("variation name '" + name + "' must be a plain folder name (letters, digits, - _ . = +; not . or ..)");
    if (!names.insert(name).second) doc.fail("variation '" + name + "' appears twice");
    Variation v;
    v.name = name;
    v.set = set;
    auto overrides = set;
    overrides.emplace_back("output.path", s.dir + "/" + name + "/out.h5");
    try {
      v.config = load_config(base_text, s.base, overrides, {}, "its set");
    } catch (const UsageError& e) {
      doc.fail("variation '" + name + "': " + e.what());
    }
    s.variations.push_back(std::move(v));
  }
  return s;
}

void write_variation_configs(const Sweep& sweep) {
  for (const auto& v : sweep.variations) {
    ensure_parent_dir(v.config_path(), "sweep " + sweep.name);
    write_text_atomic(v.config_path(), "# variation '" + v.name + "' of sweep '" + sweep.name +
                                           "' (written by modelgif sweep)\n" + v.config.resolved_yaml + "\n");
  }
}

std::vector<const Variation*> pending_variations(const Sweep& sweep) {
  std::vector<const Variation*> pending;
  for (const auto& v : sweep.variations)
    if (!v.complete()) pending.push_back(&v);
  return pending;
}

std::string sweep_listing(const Sweep& sweep) {
  std::string text;
  for (const auto& v : sweep.variations)
    text += std::string(v.complete() ? "complete  " : "pending   ") + v.name + "  " + v.config.output_path + "\n";
  return text;
}

std::string pending_list_path(const Sweep& sweep) { return sweep.dir + "/pending.list"; }

void write_pending_list(const Sweep& sweep, const std::vector<const Variation*>& pending) {
  std::string lines;
  for (const auto* v : pending) lines += v->config_path() + "\n";
  write_text_atomic(pending_list_path(sweep), lines);
}

SweepSummary collect_sweep(const Sweep& sweep) {
  SweepSummary out;
  std::ostringstream csv, table;
  csv << csv_row({"variation", "set", "metric", "model_a", "model_b", "distance"});
  ensure_dir(sweep.dir, "sweep " + sweep.name);
  std::vector<std::optional<RunResult>> results;  // each result file read once
  for (const auto& v : sweep.variations) results.push_back(v.result());
  {
    ResultWriter f(sweep.dir + "/summary.h5");
    std::vector<std::string> names, sets, states;
    for (size_t vi = 0; vi < sweep.variations.size(); ++vi) {
      const Variation& v = sweep.variations[vi];
      std::string set;
      for (const auto& [k, val] : v.set) set += (set.empty() ? "" : " ") + k + "=" + val;
      names.push_back(v.name), sets.push_back(set);
      if (!results[vi]) {
        states.push_back("missing");
        continue;
      }
      states.push_back("complete");
      ++out.complete;
      const RunResult& r = *results[vi];
      const size_t M = r.names.size();
      f.write_matrices("/runs/" + v.name, r);
      for (size_t i = 0; i < r.metrics.size(); ++i) {
        for (size_t a = 0; a < M; ++a)
          for (size_t b = a + 1; b < M; ++b)
            csv << csv_row({v.name, set, r.metrics[i], r.names[a], r.names[b], exact(r.matrices[i][a * M + b])});
      }
      f.set_attr("/runs/" + v.name, "set", set);
    }
    f.write_strings("/variations/names", names);
    f.write_strings("/variations/set", sets);
    f.write_strings("/variations/state", states);
    f.set_attr("/", "sweep", sweep.name);
    f.commit();
  }
  write_text_atomic(sweep.dir + "/summary.csv", csv.str());
  out.csv = csv.str();

  // The table: per variation and metric, the distances from the first model to the others.
  table << "sweep " << sweep.name << ": " << out.complete << " of " << sweep.variations.size()
        << " variations complete (" << sweep.dir << "/summary.csv, summary.h5)\n";
  size_t w = 9;
  for (const auto& v : sweep.variations) w = std::max(w, v.name.size());
  for (size_t vi = 0; vi < sweep.variations.size(); ++vi) {
    table << "  " << std::left << std::setw(static_cast<int>(w)) << sweep.variations[vi].name << std::right;
    if (!results[vi]) {
      table << "  (missing)\n";
      continue;
    }
    const RunResult& r = *results[vi];
    const size_t M = r.names.size();
    for (size_t i = 0; i < r.metrics.size(); ++i) {
      table << (i ? std::string(w + 2, ' ') : std::string()) << "  " << r.metrics[i] << " from " << r.names[0] << ":";
      for (size_t b = 1; b < M; ++b)
        table << " " << r.names[b] << "=" << std::fixed << std::setprecision(4) << r.matrices[i][b];
      table << "\n";
    }
  }
  out.table = table.str();
  return out;
}

}  // namespace modelgif
