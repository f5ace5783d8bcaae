#include "modelgif/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "base/files.hpp"
#include "inputs/rows.hpp"
#include "inputs/strict_yaml.hpp"
#include "modelgif/error.hpp"

namespace modelgif {
namespace {

using Kind = KeySpec::Kind;

// The checks that are not bounds or choices: parse functions of the core.
void parse_method(const std::string& s) { parse_quadrature_rule(s); }
void parse_target(const std::string& s) { Target::parse(s); }
void parse_reduce(const std::string& s) { parse_channel_reduce(s); }
void parse_kept(const std::string& s) { parse_kept_steps(s); }
void parse_metric_name(const std::string& s) { parse_metric(s); }
void parse_preset(const std::string& s) {
  if (s == "none") return;
  std::string names;
  for (const auto& p : field_presets()) {
    if (p.name == s) return;
    names += p.name + ", ";
  }
  throw_usage("expected none, " + names.substr(0, names.size() - 2) + ", got '" + s + "'");
}

// The baseline's kind and value; its seed is field.seed's.
BaselineConfig parse_baseline(const std::string& s) {
  BaselineConfig b;
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
      if (used == s.size() - 9) {
        // The baseline is an image in the models' input space: float32.
        if (!std::isfinite(b.value) || std::fabs(b.value) > std::numeric_limits<float>::max())
          throw_usage("constant:V needs a finite float32 value V, got '" + s.substr(9) + "'");
        return b;
      }
    } catch (const std::invalid_argument&) {
    } catch (const std::out_of_range&) {
      throw_usage("constant:V needs a finite float32 value V, got '" + s.substr(9) + "'");
    }
  }
  throw_usage("expected zeros, constant:V or shuffle, got '" + s + "'");
}
void parse_baseline_text(const std::string& s) { parse_baseline(s); }

void parse_device(const std::string& s) { parse_device_spec(s); }

void parse_grid_text(const std::string& s) { parse_grid(s); }

std::vector<ZooEntry> parse_zoo(const yaml::Document& doc, const YAML::Node& zoo) {
  if (!zoo || zoo.IsNull()) return {};
  if (!zoo.IsSequence()) doc.fail("'zoo' must be a list of {name, path}");
  std::vector<ZooEntry> out;
  for (size_t i = 0; i < zoo.size(); ++i) {
    const std::string key = "zoo[" + std::to_string(i + 1) + "]";
    doc.expect_map(zoo[i], key, {"name", "path"});
    ZooEntry z{doc.string(zoo[i]["name"], key + ".name"), doc.string(zoo[i]["path"], key + ".path")};
    if (z.path.empty()) doc.fail("zoo entry " + std::to_string(i + 1) + ": missing 'path'");
    out.push_back(z);
  }
  return out;
}

std::vector<ZooEntry> parse_zoo_override(const std::vector<std::string>& items) {
  std::vector<ZooEntry> out;
  for (const auto& s : items) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size()) throw_usage("--zoo '" + s + "': expected NAME=PATH");
    out.push_back({s.substr(0, eq), s.substr(eq + 1)});
  }
  return out;
}

// A name with its control characters shown as \n, \t or \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else
      out += c;
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
    // A name heads table rows and names a folder: printable, one line (UTF-8 bytes are fine).
    for (const char c : z.name)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        throw_usage("config: zoo model name '" + printable(z.name) +
                    "' holds a control character (a newline, a tab, ...): names must be one printable line");
    if (!names.insert(z.name).second) throw_usage("config: zoo model name '" + z.name + "' is used twice");
  }
}

// Sets the keys of `field.preset`; a key set otherwise to another value is refused.
void apply_preset(rows::Values& values) {
  const std::string name = values.at("field.preset").node.Scalar();
  for (const auto& p : field_presets()) {
    if (p.name != name) continue;
    for (const auto& [key, text] : p.keys) {
      rows::Given& v = values.at(key);
      const YAML::Node want = rows::check_value(*values.find(key), YAML::Node(text), "config", key, true);
      if (!v.source.empty() && v.node.Scalar() != want.Scalar())
        throw_usage(v.source + ": key '" + key + "': " + v.node.Scalar() + " contradicts field.preset " + name + " (" +
                    values.source_of("field.preset") + "), which sets " + text);
      v.node = want;
    }
  }
}

// The resolved config, nested again, with the zoo as given.
std::string resolved_yaml(const std::map<std::string, rows::Given>& values, const std::vector<ZooEntry>& zoo) {
  YAML::Node out;
  for (const auto& [key, v] : values) {
    const auto dot = key.find('.');
    out[key.substr(0, dot)][key.substr(dot + 1)] = v.node;
  }
  for (const auto& z : zoo) {
    YAML::Node e;
    e["name"] = z.name;
    e["path"] = z.path;
    out["zoo"].push_back(e);
  }
  YAML::Emitter em;
  em << out;
  return em.c_str();
}

}  // namespace

namespace {

using K = KeySpec;

// references.*: which images and how they are prepared.
std::vector<KeySpec> reference_keys() {
  return {
      K("references.source", Kind::String, "",
        "the reference images: FILE.h5:/dataset (float N x C x H x W or N x H x W, taken as stored), an "
        "IDX file (plain or .gz, N x H x W or N x H x W x C bytes), or an image folder (images directly "
        "inside, or one subfolder per class: labels are the class index in name order)")
          .non_empty()
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.source = v.text; }),
      K("references.labels", Kind::String, "",
        "FILE.h5:/dataset or an IDX labels file; for IDX images named *-images-idx3-ubyte* the "
        "*-labels-idx1-ubyte* beside them is used when empty")
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.labels = v.text; }),
      K("references.count", Kind::Int, "0", "how many references (0 = all)")
          .at_least(0)
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.count = v.integer(); }),
      K("references.select", Kind::String, "first",
        "which references: the first N, or random (a seeded sample, kept in source order)")
          .one_of({"first", "random"})
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.random = v.text == "random"; }),
      K("references.seed", Kind::Int, "0", "seed of references.select: random")
          .at_least(0)
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.seed = static_cast<uint64_t>(v.integer()); }),
      K("references.resize", Kind::IntList, "[]",
        "[H, W]: bilinear resize ([] keeps the size; image folders are resized as 8-bit pixels, rounded)")
          .at_least(1)
          .lengths_in({0, 2})
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.resize = v.integers(); }),
      K("references.channels", Kind::Int, "0", "image folders: decode to 1 or 3 channels (0 = as stored)")
          .one_of({"0", "1", "3"})
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.channels = v.integer(); }),
      K("references.scale", Kind::Double, "1.0",
        "preprocessing x * scale + shift (IDX and image pixels are first mapped to [0, 1])")
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.scale = v.number(); }),
      K("references.shift", Kind::Double, "0.0", "preprocessing: x * scale + shift")
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.shift = v.number(); }),
      K("references.mean", Kind::DoubleList, "[]", "then per-channel (x - mean) / std")
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.mean = v.numbers(); }),
      K("references.std", Kind::DoubleList, "[]", "preprocessing: per-channel standard deviations")
          .above(0)
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.std = v.numbers(); }),
      K("references.cutmix", Kind::Bool, "false",
        "CutMix references (the paper's best for task relatedness): into every reference a box of "
        "another one (a seeded derangement, seed references.seed), its area a uniform fraction of the "
        "image; labels stay the host image's")
          .sets([](RunConfig& c, const KeyValue& v) { c.refs.cutmix = v.boolean(); }),
  };
}

// field.*: the gradient field of each model.
std::vector<KeySpec> field_keys() {
  return {
      K("field.preset", Kind::String, "none",
        "a named set of the field.* keys: none, modelgif, integrated_gradients, saliency, "
        "input_x_gradient (docs/configuration.md#attribution-presets); a key it sets may be given only "
        "with the same value")
          .parsed_by(parse_preset),
      K("field.steps", Kind::Int, "50", "quadrature steps S on the path")
          .at_least(1)
          .at_most(1000000)
          .sets([](RunConfig& c, const KeyValue& v) { c.field.steps = static_cast<int>(v.integer()); }),
      K("field.method", Kind::String, "gausslegendre",
        "quadrature: gausslegendre, riemann_left, riemann_right, riemann_middle, riemann_trapezoid, or "
        "endpoint (one node at alpha = 1 with weight 1, with field.steps 1: the plain gradient at x)")
          .parsed_by(parse_method)
          .sets([](RunConfig& c, const KeyValue& v) { c.field.rule = parse_quadrature_rule(v.text); }),
      K("field.target", Kind::String, "predicted",
        "the differentiated scalar: predicted, label, class:K, sum, topk:K, channel_max (MODELGIF.md "
        "section 3)")
          .parsed_by(parse_target)
          .sets([](RunConfig& c, const KeyValue& v) { c.field.target = Target::parse(v.text); }),
      K("field.baseline", Kind::String, "zeros",
        "the path's start: zeros, constant:V (a value in the model's input space), or shuffle (another "
        "reference, a seeded derangement)")
          .parsed_by(parse_baseline_text)
          .sets([](RunConfig& c, const KeyValue& v) {
            const BaselineConfig b = parse_baseline(v.text);  // the seed is field.seed's
            c.baseline.kind = b.kind, c.baseline.value = b.value;
          }),
      K("field.seed", Kind::Int, "0", "seed of the shuffle baseline's derangement")
          .at_least(0)
          .sets([](RunConfig& c, const KeyValue& v) { c.baseline.seed = static_cast<uint64_t>(v.integer()); }),
      K("field.cumulative", Kind::Bool, "true", "cumulative fields G_k (false: per-step g_k)")
          .sets([](RunConfig& c, const KeyValue& v) { c.field.cumulative = v.boolean(); }),
      K("field.multiply_by_input", Kind::Bool, "true", "multiply by the input's offset x - b")
          .sets([](RunConfig& c, const KeyValue& v) { c.field.multiply_by_input = v.boolean(); }),
      K("field.reduce_channels", Kind::String, "none", "none or mean (over channels)")
          .parsed_by(parse_reduce)
          .sets([](RunConfig& c, const KeyValue& v) { c.field.reduce = parse_channel_reduce(v.text); }),
      K("field.keep_steps", Kind::String, "all", "steps kept: all, last_half, first_half, odd, last (k = S only)")
          .parsed_by(parse_kept)
          .sets([](RunConfig& c, const KeyValue& v) { c.field.kept = parse_kept_steps(v.text); }),
  };
}

// distance.*, output.* and checkpoint.*: what is made of the fields and what is kept.
std::vector<KeySpec> output_keys() {
  return {
      K("distance.metrics", Kind::StringList, "[cosine]",
        "any of cosine, euclidean, cosine_frechet, euclidean_frechet, cosine_standardized")
          .parsed_by(parse_metric_name)
          .distinct()
          .non_empty()
          .sets([](RunConfig& c, const KeyValue& v) {
            for (const auto& m : v.items) c.metrics.push_back(parse_metric(m));
          }),
      K("output.path", Kind::String, "runs/out.h5", "output HDF5 file")
          .non_empty()
          .sets([](RunConfig& c, const KeyValue& v) { c.output_path = v.text; }),
      K("output.store_fields", Kind::Bool, "false", "store every model's field under /fields of the result")
          .sets([](RunConfig& c, const KeyValue& v) { c.store_fields = v.boolean(); }),
      K("output.pictures", Kind::Bool, "true",
        "draw a heatmap and a similarity tree per metric beside the output (OUTPUT-heatmap-METRIC.svg, ...)")
          .sets([](RunConfig& c, const KeyValue& v) { c.pictures = v.boolean(); }),
      K("output.field_dtype", Kind::String, "float32",
        "stored fields: float32 or float16 (distances always use float32 fields and float64 sums); "
        "fields beyond float16's range (65504) are refused before the file is made, naming the model")
          .one_of({"float32", "float16"})
          .sets([](RunConfig& c, const KeyValue& v) { c.half_fields = v.text == "float16"; }),
      K("checkpoint.fields", Kind::String, "keep",
        "what the checkpoint keeps of the fields once their pair sums are made: keep (every shard: a "
        "stopped run resumes inside a block, eval draws curves from them, a grown zoo reuses the old "
        "models' fields) or none (the pair sums and moments per block only: resume at block granularity, "
        "a grown zoo computes its old models' fields again); not fingerprinted")
          .one_of({"keep", "none"})
          .sets([](RunConfig& c, const KeyValue& v) {
            c.checkpoint_fields = v.text == "none" ? CheckpointFields::None : CheckpointFields::Keep;
          }),
  };
}

// run.*: how the run computes: batches, precision, layout, threads, device, grid.
std::vector<KeySpec> run_keys() {
  return {
      K("run.max_points", Kind::Int, "0",
        "micro-batch bound in path points per forward/backward; 0 = tuned at start on the first model "
        "(docs/performance.md)")
          .at_least(0)
          .sets([](RunConfig& c, const KeyValue& v) { c.max_points = v.integer(); }),
      K("run.block", Kind::Int, "64",
        "references per block: the fields of one block of a rank's models are what it holds in memory")
          .at_least(1)
          .sets([](RunConfig& c, const KeyValue& v) { c.block = v.integer(); }),
      K("run.precision", Kind::String, "float32",
        "the models' precision: float32, or bfloat16 (parameters and path points in bfloat16; the "
        "gradient goes to float32 before the quadrature weights, the rest stays float32/float64); part "
        "of the fingerprint")
          .one_of({"float32", "bfloat16"})
          .sets([](RunConfig& c, const KeyValue& v) { c.precision = parse_precision(v.text); }),
      K("run.memory_format", Kind::String, "auto",
        "layout of the models' inputs and convolution weights: contiguous (NCHW), channels_last, or auto "
        "(both timed at start, the choice kept in the checkpoint; results agree to 1e-6)")
          .one_of({"auto", "contiguous", "channels_last"})
          .sets([](RunConfig& c, const KeyValue& v) {
            if (v.text != "auto") c.memory_format = parse_memory_format(v.text);
          }),
      K("run.threads", Kind::Int, "0",
        "LibTorch intra-op threads per rank (0 = the node's cores / the ranks on the node)")
          .at_least(0)
          .at_most(1024)
          .sets([](RunConfig& c, const KeyValue& v) { c.threads = v.integer(); }),
      K("run.device", Kind::String, "auto",
        "auto (cuda:(node-local rank mod GPUs) when this LibTorch has CUDA and a GPU is visible, else "
        "the CPU), cpu, cuda (the default device) or cuda:N")
          .parsed_by(parse_device)
          .sets([](RunConfig& c, const KeyValue& v) { c.device = parse_device_spec(v.text); }),
      K("run.progress_interval", Kind::Double, "30",
        "seconds between progress lines in a log (a terminal gets a live bar; under mpirun, srun or in a "
        "SLURM job always plain lines)")
          .above(0)
          .sets([](RunConfig& c, const KeyValue& v) { c.progress_interval = v.number(); }),
      K("run.grid", Kind::String, "auto",
        "MPI ranks as GxR: G model groups x R reference shards; auto: the shape using the most ranks, "
        "preferring reference shards")
          .parsed_by(parse_grid_text)
          .sets([](RunConfig& c, const KeyValue& v) { c.grid = parse_grid(v.text); }),
  };
}

}  // namespace

const std::vector<KeySpec>& config_keys() {
  static const std::vector<KeySpec> keys = [] {
    std::vector<KeySpec> all;
    for (const auto& section : {reference_keys(), field_keys(), output_keys(), run_keys()})
      all.insert(all.end(), section.begin(), section.end());
    return all;
  }();
  return keys;
}

const std::vector<FieldPreset>& field_presets() {
  static const std::vector<FieldPreset> presets = {
      {"modelgif",
       "the gradient field: cumulative, times x - b, every step kept (the defaults)",
       {{"field.method", "gausslegendre"},
        {"field.cumulative", "true"},
        {"field.multiply_by_input", "true"},
        {"field.keep_steps", "all"}}},
      {"integrated_gradients",
       "integrated gradients (Sundararajan et al. 2017): (x - b) times the path integral of the gradient, the "
       "last cumulative step only",
       {{"field.cumulative", "true"}, {"field.multiply_by_input", "true"}, {"field.keep_steps", "last"}}},
      {"saliency",
       "saliency (Simonyan et al. 2014), signed: the gradient at x",
       {{"field.method", "endpoint"},
        {"field.steps", "1"},
        {"field.cumulative", "true"},
        {"field.multiply_by_input", "false"},
        {"field.keep_steps", "all"}}},
      {"input_x_gradient",
       "gradient times input (Shrikumar et al. 2016): x times the gradient at x",
       {{"field.method", "endpoint"},
        {"field.steps", "1"},
        {"field.baseline", "zeros"},
        {"field.cumulative", "true"},
        {"field.multiply_by_input", "true"},
        {"field.keep_steps", "all"}}},
  };
  return presets;
}

Grid parse_grid(const std::string& s) {
  if (s == "auto") return {};
  const auto x = s.find('x');
  const auto digits = [](const std::string& t) {
    return !t.empty() && t.size() < 7 &&
           std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  };
  if (x != std::string::npos && digits(s.substr(0, x)) && digits(s.substr(x + 1))) {
    const Grid g{std::stoi(s.substr(0, x)), std::stoi(s.substr(x + 1))};
    if (g.groups > 0 && g.shards > 0) return g;
  }
  throw_usage("expected auto or GxR (model groups x reference shards), got '" + s + "'");
}

DeviceSpec parse_device_spec(const std::string& s) {
  if (s == "auto") return {};
  if (s == "cpu") return {DeviceSpec::Kind::Cpu, -1};
  if (s == "cuda") return {DeviceSpec::Kind::Cuda, -1};
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 10 &&
      std::all_of(s.begin() + 5, s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return {DeviceSpec::Kind::Cuda, std::stoi(s.substr(5))};
  throw_usage("expected auto, cpu, cuda or cuda:N, got '" + s + "'");
}

std::string DeviceSpec::str() const {
  switch (kind) {
    case Kind::Auto:
      return "auto";
    case Kind::Cpu:
      return "cpu";
    case Kind::Cuda:
      return index < 0 ? "cuda" : "cuda:" + std::to_string(index);
  }
  return "?";
}

std::string config_reference() {
  // A cell holds no '|' and no line break.
  const auto cell = [](std::string t) {
    for (size_t at = 0; (at = t.find('|', at)) != std::string::npos; at += 2) t.replace(at, 1, "\\|");
    return t;
  };
  std::ostringstream s;
  s << "| key | default | what it is | values |\n|---|---|---|---|\n";
  for (const auto& k : config_keys()) {
    const std::string values = rule_values(k);
    s << "| `" << k.key << "` | " << (k.default_yaml.empty() ? "(none)" : "`" + cell(k.default_yaml) + "`") << " | "
      << cell(k.help) << " | " << cell(values) << " |\n";
  }
  return s.str();
}

std::string BaselineConfig::str() const {
  switch (kind) {
    case Kind::Zeros:
      return "zeros";
    case Kind::Shuffle:
      return "shuffle";
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
                      const std::vector<std::string>& zoo_override, const std::string& overrides_source) {
  rows::Values values(rows::rules_of(config_keys()), "config");
  const yaml::Document doc = yaml::Document::parse(text, "config", origin);
  std::map<std::string, YAML::Node> parts;  // the zoo, read whole
  if (!doc.root().IsNull()) values.read(doc, doc.root(), {"zoo"}, parts);
  for (const auto& [key, value] : overrides) {
    if (!values.find(key))
      throw_usage("unknown option '--" + key + "' (did you mean '--" + yaml::nearest(key, values.keys()) + "'?)");
    try {
      values.give(key, YAML::Load(value), overrides_source);
    } catch (const YAML::Exception& e) {
      throw_usage("option '--" + key + "': cannot parse '" + value + "': " + e.msg);
    }
  }
  values.check(true);  // a list is also "a,b" (on the command line, and as ever in the file)
  apply_preset(values);

  RunConfig c;
  c.zoo = zoo_override.empty() ? parse_zoo(doc, parts["zoo"]) : parse_zoo_override(zoo_override);
  check_zoo(c.zoo);
  rows::set_rows(config_keys(), values, c);  // every key sets its member (one spelling: its row)

  // Checks across keys, or against the core's rules, named by where the key was set.
  if (c.refs.mean.size() != c.refs.std.size())
    values.fail("references.std", std::to_string(c.refs.std.size()) + " values for " +
                                      std::to_string(c.refs.mean.size()) +
                                      " in 'references.mean': they must have the same length");
  try {
    make_quadrature(c.field.rule, c.field.steps);  // the steps the rule needs
  } catch (const UsageError& e) {
    values.fail("field.steps", e.what());
  }
  try {
    kept_step_indices(c.field.kept, c.field.steps);
  } catch (const UsageError& e) {
    values.fail("field.keep_steps", e.what());
  }
  c.resolved_yaml = resolved_yaml(values.all(), c.zoo);
  c.origin = origin;
  return c;
}

RunConfig load_config_file(const std::string& path, const std::vector<std::pair<std::string, std::string>>& overrides,
                           const std::vector<std::string>& zoo_override) {
  return load_config(read_text_file(path, "config"), path, overrides, zoo_override);
}

}  // namespace modelgif
