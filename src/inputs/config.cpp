#include "modelgif/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "modelgif/error.hpp"

namespace modelgif {
namespace {

using Kind = KeySpec::Kind;

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Int: return "an integer";
    case Kind::Double: return "a number";
    case Kind::Bool: return "true or false";
    case Kind::String: return "a string";
    case Kind::IntList: return "a list of integers";
    case Kind::DoubleList: return "a list of numbers";
    case Kind::StringList: return "a list of strings";
  }
  return "?";
}

const KeySpec* find_key(const std::string& key) {
  for (const auto& k : config_keys())
    if (k.key == key) return &k;
  return nullptr;
}

bool is_section(const std::string& prefix) {
  for (const auto& k : config_keys())
    if (k.key.compare(0, prefix.size() + 1, prefix + ".") == 0) return true;
  return false;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string describe(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "nothing";
}

[[noreturn]] void bad_type(const std::string& key, const KeySpec& spec, const YAML::Node& n) {
  throw_usage("config key '" + key + "': expected " + kind_name(spec.kind) + ", got " + describe(n));
}

// Checks that `n` converts to the key's type; returns the normalized node.
YAML::Node check_type(const std::string& key, const KeySpec& spec, YAML::Node n) {
  const bool list = spec.kind == Kind::IntList || spec.kind == Kind::DoubleList || spec.kind == Kind::StringList;
  if (list && n.IsScalar()) {  // "a,b,c" on the command line
    YAML::Node seq(YAML::NodeType::Sequence);
    std::stringstream ss(n.Scalar());
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) seq.push_back(YAML::Load(item));
    n = seq;
  }
  if (list && n.IsNull()) n = YAML::Node(YAML::NodeType::Sequence);
  try {
    switch (spec.kind) {
      case Kind::Int: if (!n.IsScalar()) bad_type(key, spec, n); n.as<long long>(); break;
      case Kind::Double: if (!n.IsScalar()) bad_type(key, spec, n); n.as<double>(); break;
      case Kind::Bool: if (!n.IsScalar()) bad_type(key, spec, n); n.as<bool>(); break;
      case Kind::String: if (!n.IsScalar() && !n.IsNull()) bad_type(key, spec, n); break;
      case Kind::IntList:
      case Kind::DoubleList:
      case Kind::StringList:
        if (!n.IsSequence()) bad_type(key, spec, n);
        for (const auto& e : n) {
          if (!e.IsScalar()) bad_type(key, spec, n);
          if (spec.kind == Kind::IntList) e.as<long long>();
          if (spec.kind == Kind::DoubleList) e.as<double>();
        }
        break;
    }
  } catch (const YAML::Exception&) {
    bad_type(key, spec, n);
  }
  return n;
}

// Walks a mapping into dotted keys; "zoo" is kept whole.
void flatten(const YAML::Node& node, const std::string& prefix, const std::string& origin,
             std::map<std::string, YAML::Node>& out, YAML::Node& zoo) {
  if (!node.IsMap())
    throw_usage("config " + origin + ": " + (prefix.empty() ? "top level" : "'" + prefix + "'") +
                " must be a mapping of keys");
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const std::string k = kv.first.as<std::string>();
    const std::string full = prefix.empty() ? k : prefix + "." + k;
    if (!seen.insert(k).second) throw_usage("config " + origin + ": duplicate key '" + full + "'");
    if (full == "zoo") {
      zoo = kv.second;
    } else if (find_key(full)) {
      out[full] = kv.second;
    } else if (is_section(full)) {
      flatten(kv.second, full, origin, out, zoo);
    } else {
      throw_usage("config " + origin + ": unknown key '" + full + "' (did you mean '" + nearest_key(full) + "'?)");
    }
  }
}

std::vector<ZooEntry> parse_zoo(const YAML::Node& zoo, const std::string& origin) {
  if (!zoo || zoo.IsNull()) return {};
  if (!zoo.IsSequence()) throw_usage("config " + origin + ": 'zoo' must be a list of {name, path}");
  std::vector<ZooEntry> out;
  for (size_t i = 0; i < zoo.size(); ++i) {
    const auto& e = zoo[i];
    const std::string where = "config " + origin + ": zoo entry " + std::to_string(i + 1);
    if (!e.IsMap()) throw_usage(where + " must be a mapping with name and path");
    ZooEntry z;
    std::set<std::string> seen;
    for (const auto& kv : e) {
      const std::string k = kv.first.as<std::string>();
      if (!seen.insert(k).second) throw_usage(where + ": duplicate key '" + k + "'");
      if (!kv.second.IsScalar()) throw_usage(where + ": '" + k + "' must be a string");
      if (k == "name") z.name = kv.second.as<std::string>();
      else if (k == "path") z.path = kv.second.as<std::string>();
      else throw_usage(where + ": unknown key '" + k + "' (expected name, path)");
    }
    if (z.path.empty()) throw_usage(where + ": missing 'path'");
    out.push_back(z);
  }
  return out;
}

std::vector<ZooEntry> parse_zoo_override(const std::vector<std::string>& items) {
  std::vector<ZooEntry> out;
  for (const auto& s : items) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      throw_usage("--zoo '" + s + "': expected NAME=PATH");
    out.push_back({s.substr(0, eq), s.substr(eq + 1)});
  }
  return out;
}

void check_zoo(std::vector<ZooEntry>& zoo) {
  if (zoo.empty()) throw_usage("config: 'zoo' is empty (list at least one model as {name, path})");
  std::set<std::string> names;
  for (auto& z : zoo) {
    if (z.name.empty()) {  // default name: file stem
      const auto slash = z.path.find_last_of('/');
      z.name = z.path.substr(slash == std::string::npos ? 0 : slash + 1);
      const auto dot = z.name.find_last_of('.');
      if (dot != std::string::npos && dot > 0) z.name.resize(dot);
    }
    if (z.name.find('/') != std::string::npos || z.name == "." || z.name == "..")
      throw_usage("config: zoo model name '" + z.name + "' may not contain '/' or be '.'/'..'");
    if (!names.insert(z.name).second) throw_usage("config: zoo model name '" + z.name + "' is used twice");
  }
}

BaselineConfig parse_baseline(const std::string& s, uint64_t seed) {
  BaselineConfig b;
  b.seed = seed;
  if (s == "zeros") return b;
  if (s == "shuffle") {
    b.kind = BaselineConfig::Kind::Shuffle;
    return b;
  }
  if (s.rfind("constant:", 0) == 0) {
    b.kind = BaselineConfig::Kind::Constant;
    try {
      size_t used = 0;
      b.value = std::stod(s.substr(9), &used);
      if (used == s.size() - 9) return b;
    } catch (const std::exception&) {
    }
  }
  throw_usage("config key 'field.baseline': expected zeros, constant:V or shuffle, got '" + s + "'");
}

}  // namespace

const std::vector<KeySpec>& config_keys() {
  static const std::vector<KeySpec> keys = {
      {"references.source", Kind::String, "", "reference images: FILE.h5:/dataset, an IDX(.gz) file, or an image folder"},
      {"references.labels", Kind::String, "", "labels: FILE.h5:/dataset or IDX labels file (IDX: found beside the images when empty)"},
      {"references.count", Kind::Int, "0", "number of references (0 = all)"},
      {"references.select", Kind::String, "first", "which references: first or random (seeded)"},
      {"references.seed", Kind::Int, "0", "seed of references.select: random"},
      {"references.resize", Kind::IntList, "[]", "resize to [H, W] (bilinear); [] keeps the size"},
      {"references.channels", Kind::Int, "0", "channels of image-folder references: 1, 3, or 0 = as stored"},
      {"references.scale", Kind::Double, "1.0", "preprocessing: x * scale + shift (pixels are first mapped to [0, 1])"},
      {"references.shift", Kind::Double, "0.0", "preprocessing: x * scale + shift"},
      {"references.mean", Kind::DoubleList, "[]", "preprocessing: per-channel (x - mean) / std, after scale/shift"},
      {"references.std", Kind::DoubleList, "[]", "preprocessing: per-channel standard deviations"},
      {"references.cutmix", Kind::Bool, "false", "CutMix references: a box of another reference pasted into each (seeded)"},
      {"field.steps", Kind::Int, "50", "quadrature steps S on the path"},
      {"field.method", Kind::String, "gausslegendre",
       "quadrature: gausslegendre, riemann_left, riemann_right, riemann_middle, riemann_trapezoid"},
      {"field.target", Kind::String, "predicted", "differentiated scalar: predicted, label, class:K, sum, topk:K, channel_max"},
      {"field.baseline", Kind::String, "zeros", "path start: zeros, constant:V (model input space), shuffle"},
      {"field.seed", Kind::Int, "0", "seed of the shuffle baseline's derangement"},
      {"field.cumulative", Kind::Bool, "true", "cumulative fields G_k (false: per-step g_k)"},
      {"field.multiply_by_input", Kind::Bool, "true", "multiply by the input's offset x - b"},
      {"field.reduce_channels", Kind::String, "none", "none or mean (over channels)"},
      {"field.keep_steps", Kind::String, "all", "steps kept: all, last_half, first_half, odd"},
      {"distance.metrics", Kind::StringList, "[cosine]",
       "any of cosine, euclidean, cosine_frechet, euclidean_frechet, cosine_standardized"},
      {"output.path", Kind::String, "runs/out.h5", "output HDF5 file"},
      {"output.store_fields", Kind::Bool, "false", "store every model's field under /fields"},
      {"output.field_dtype", Kind::String, "float32", "stored field type: float32 or float16"},
      {"run.max_points", Kind::Int, "0", "micro-batch bound: path points per forward/backward (0 = tuned at start)"},
      {"run.block", Kind::Int, "64", "references per block (fields of one block per model are held in memory)"},
      {"run.threads", Kind::Int, "0", "intra-op threads per rank (0 = the node's cores / ranks on the node)"},
      {"run.device", Kind::String, "auto", "auto (node-local rank's CUDA device when available), cpu, cuda or cuda:N"},
      {"run.progress_interval", Kind::Double, "30", "seconds between progress lines in a batch log (a terminal gets a live bar)"},
      {"run.grid", Kind::String, "auto", "MPI ranks as GxR: G model groups x R reference shards, or auto"},
  };
  return keys;
}

std::string nearest_key(const std::string& key) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& k : config_keys()) {
    // Compare against the full key and against its last part (a key in the wrong section).
    const size_t d = std::min(edit_distance(key, k.key), edit_distance(key, k.key.substr(k.key.find('.') + 1)) + 1);
    if (d < best_d) best_d = d, best = k.key;
  }
  return best;
}

std::string BaselineConfig::str() const {
  switch (kind) {
    case Kind::Zeros: return "zeros";
    case Kind::Shuffle: return "shuffle";
    case Kind::Constant: {
      std::ostringstream s;
      s << "constant:" << value;
      return s.str();
    }
  }
  return "?";
}

RunConfig load_config(const std::string& text, const std::string& origin,
                      const std::vector<std::pair<std::string, std::string>>& overrides,
                      const std::vector<std::string>& zoo_override) {
  std::map<std::string, YAML::Node> values;
  for (const auto& k : config_keys()) values[k.key] = YAML::Load(k.default_yaml.empty() ? "''" : k.default_yaml);
  YAML::Node zoo_node;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_usage("config " + origin + ": YAML syntax error at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsNull()) {
    std::map<std::string, YAML::Node> file_values;
    flatten(root, "", origin, file_values, zoo_node);
    for (auto& kv : file_values) values[kv.first] = kv.second;
  }
  for (const auto& [key, value] : overrides) {
    if (!find_key(key)) throw_usage("unknown option '--" + key + "' (did you mean '--" + nearest_key(key) + "'?)");
    try {
      values[key] = YAML::Load(value);
    } catch (const YAML::Exception& e) {
      throw_usage("option '--" + key + "': cannot parse '" + value + "': " + e.msg);
    }
  }
  for (auto& [key, node] : values) node = check_type(key, *find_key(key), node);

  RunConfig c;
  c.zoo = zoo_override.empty() ? parse_zoo(zoo_node, origin) : parse_zoo_override(zoo_override);
  check_zoo(c.zoo);

  auto str = [&](const std::string& k) { return values[k].IsNull() ? std::string() : values[k].as<std::string>(); };
  auto int_ = [&](const std::string& k, long long min) {
    const long long v = values[k].as<long long>();
    if (v < min) throw_usage("config key '" + k + "': must be >= " + std::to_string(min) + ", got " + std::to_string(v));
    return static_cast<int64_t>(v);
  };
  auto dlist = [&](const std::string& k) { return values[k].as<std::vector<double>>(); };
  // Re-tag a parse error with the key it came from.
  auto keyed = [](const std::string& k, auto&& fn) {
    try {
      return fn();
    } catch (const UsageError& e) {
      const std::string w = e.what();
      if (w.find("'" + k + "'") != std::string::npos || w.find(k) != std::string::npos) throw;
      throw UsageError("config key '" + k + "': " + w);
    }
  };

  auto& r = c.refs;
  r.source = str("references.source");
  if (r.source.empty()) throw_usage("config key 'references.source' is required (an HDF5 dataset, IDX file or image folder)");
  r.labels = str("references.labels");
  r.count = int_("references.count", 0);
  const std::string select = str("references.select");
  if (select != "first" && select != "random")
    throw_usage("config key 'references.select': expected first or random, got '" + select + "'");
  r.random = select == "random";
  r.seed = static_cast<uint64_t>(int_("references.seed", 0));
  for (const auto v : values["references.resize"].as<std::vector<long long>>()) r.resize.push_back(v);
  if (!r.resize.empty() && (r.resize.size() != 2 || r.resize[0] < 1 || r.resize[1] < 1))
    throw_usage("config key 'references.resize': expected [] or [H, W] with H, W >= 1");
  r.channels = int_("references.channels", 0);
  if (r.channels != 0 && r.channels != 1 && r.channels != 3)
    throw_usage("config key 'references.channels': expected 0, 1 or 3, got " + std::to_string(r.channels));
  r.scale = values["references.scale"].as<double>();
  r.shift = values["references.shift"].as<double>();
  r.mean = dlist("references.mean");
  r.std = dlist("references.std");
  r.cutmix = values["references.cutmix"].as<bool>();
  if (r.mean.size() != r.std.size())
    throw_usage("config keys 'references.mean' and 'references.std' must have the same length");
  for (double s : r.std)
    if (!(s > 0)) throw_usage("config key 'references.std': every value must be > 0");

  auto& f = c.field;
  const int64_t steps = int_("field.steps", 1);
  if (steps > 1000000) throw_usage("config key 'field.steps': at most 1000000, got " + std::to_string(steps));
  f.steps = static_cast<int>(steps);
  f.rule = keyed("field.method", [&] { return parse_quadrature_rule(str("field.method")); });
  make_quadrature(f.rule, f.steps);  // validates steps against the rule
  f.target = keyed("field.target", [&] { return Target::parse(str("field.target")); });
  f.cumulative = values["field.cumulative"].as<bool>();
  f.multiply_by_input = values["field.multiply_by_input"].as<bool>();
  f.reduce = keyed("field.reduce_channels", [&] { return parse_channel_reduce(str("field.reduce_channels")); });
  f.kept = keyed("field.keep_steps", [&] { return parse_kept_steps(str("field.keep_steps")); });
  kept_step_indices(f.kept, f.steps);
  c.baseline = parse_baseline(str("field.baseline"), static_cast<uint64_t>(int_("field.seed", 0)));

  std::set<std::string> seen;
  for (const auto& m : values["distance.metrics"].as<std::vector<std::string>>()) {
    if (!seen.insert(m).second) throw_usage("config key 'distance.metrics': '" + m + "' listed twice");
    c.metrics.push_back(keyed("distance.metrics", [&] { return parse_metric(m); }));
  }
  if (c.metrics.empty()) throw_usage("config key 'distance.metrics': list at least one metric");

  c.output_path = str("output.path");
  if (c.output_path.empty()) throw_usage("config key 'output.path' is required");
  c.store_fields = values["output.store_fields"].as<bool>();
  const std::string dtype = str("output.field_dtype");
  if (dtype != "float32" && dtype != "float16")
    throw_usage("config key 'output.field_dtype': expected float32 or float16, got '" + dtype + "'");
  c.half_fields = dtype == "float16";
  c.max_points = int_("run.max_points", 0);
  c.block = int_("run.block", 1);
  c.threads = int_("run.threads", 0);
  c.device = str("run.device");
  c.grid = str("run.grid");
  c.progress_interval = values["run.progress_interval"].as<double>();
  if (!(c.progress_interval > 0)) throw_usage("config key 'run.progress_interval': must be > 0");
  if (c.device != "auto" && c.device != "cpu" && c.device != "cuda" && c.device.rfind("cuda:", 0) != 0)
    throw_usage("config key 'run.device': expected auto, cpu, cuda or cuda:N, got '" + c.device + "'");

  // The resolved config, nested again, with the zoo as given.
  YAML::Node out;
  for (const auto& [key, node] : values) {
    const auto dot = key.find('.');
    out[key.substr(0, dot)][key.substr(dot + 1)] = node;
  }
  for (const auto& z : c.zoo) {
    YAML::Node e;
    e["name"] = z.name;
    e["path"] = z.path;
    out["zoo"].push_back(e);
  }
  YAML::Emitter em;
  em << out;
  c.resolved_yaml = em.c_str();
  return c;
}

RunConfig load_config_file(const std::string& path, const std::vector<std::pair<std::string, std::string>>& overrides,
                           const std::vector<std::string>& zoo_override) {
  std::ifstream in(path);
  if (!in) throw_usage("config " + path + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  return load_config(ss.str(), path, overrides, zoo_override);
}

}  // namespace modelgif
