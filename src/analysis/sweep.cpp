#include "analysis/sweep.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>

#include "base/files.hpp"
#include "base/text.hpp"
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
  doc.expect_map(doc.root(), "", {"sweep", "variations", "grid"});
  Sweep s;
  const YAML::Node head = doc.root()["sweep"], variations = doc.root()["variations"], grid = doc.root()["grid"];
  if (head) {
    doc.expect_map(head, "sweep", {"name", "base", "dir"});
    s.name = doc.string(head["name"], "sweep.name");
    s.base = doc.string(head["base"], "sweep.base");
    s.dir = doc.string(head["dir"], "sweep.dir");
  }
  if (s.base.empty()) doc.fail("'sweep.base' (the run config to vary) is required");
  if (s.name.empty()) s.name = fs::path(path).stem().string();
  if (s.dir.empty()) s.dir = "runs/sweeps/" + s.name;

  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> list;
  if (variations && !variations.IsNull()) {
    if (!variations.IsSequence()) doc.fail("'variations' must be a list of {name, set}");
    for (size_t i = 0; i < variations.size(); ++i) {
      const auto& v = variations[i];
      const std::string key = "variations[" + std::to_string(i + 1) + "]";
      doc.expect_map(v, key, {"name", "set"});
      const std::string name = doc.string(v["name"], key + ".name");
      std::vector<std::pair<std::string, std::string>> set;
      if (v["set"] && !v["set"].IsNull()) {
        if (!v["set"].IsMap()) doc.fail("key '" + key + ".set' must map config keys to values");
        for (const auto& e : v["set"]) set.emplace_back(e.first.Scalar(), yaml::flow_text(e.second));
      }
      if (name.empty()) doc.fail("variation " + std::to_string(i + 1) + ": missing 'name'");
      list.emplace_back(name, set);
    }
  }
  if (grid && !grid.IsNull()) {  // cartesian product of the listed values, in order
    if (!grid.IsMap()) doc.fail("'grid' must map config keys to lists of values");
    std::vector<std::pair<std::string, std::string>> none;
    std::vector<std::vector<std::pair<std::string, std::string>>> combos = {none};
    for (const auto& kv : grid) {
      const std::string key = kv.first.Scalar();
      if (!kv.second.IsSequence() || kv.second.size() == 0)
        doc.fail("grid key '" + key + "' needs a non-empty list of values");
      std::vector<std::vector<std::pair<std::string, std::string>>> next;
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
