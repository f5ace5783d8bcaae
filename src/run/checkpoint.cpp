#include "run/checkpoint.hpp"

#include <ATen/ATen.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <iomanip>
#include <set>
#include <sstream>

#include "base/files.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "run/checksum.hpp"

namespace fs = std::filesystem;

namespace modelgif {
namespace {

// A manifest's CRC-32: every field it holds, in a fixed order. The memory
// format, added later, counts when it is not the default (so the manifests
// written before keep their checksum).
int64_t checksum(const Manifest& m) {
  std::vector<std::string> lines = {m.fingerprint, m.text, m.config};
  if (m.memory_format != "contiguous") lines.push_back(m.memory_format);
  for (const int64_t v : {m.references, m.block, m.blocks, m.steps_kept, m.features, m.max_points})
    lines.push_back(std::to_string(v));
  for (const auto& [name, hash] : m.models) {
    const auto p = m.paths.find(name);
    lines.push_back(name + "@" + hash + " " + (p == m.paths.end() ? "" : p->second));
  }
  lines.insert(lines.end(), m.order.begin(), m.order.end());
  return Crc32().add(lines).value();
}

int64_t checksum(const at::Tensor& field, const std::vector<double>& moments) {
  return Crc32().add(field.data_ptr(), static_cast<size_t>(field.numel()) * 4).add(moments).value();
}

}  // namespace

std::string hash_tensor(const at::Tensor& t) {
  const at::Tensor c = t.contiguous().to(at::kCPU);
  return hex64(fnv1a(c.data_ptr(), static_cast<size_t>(c.numel() * c.element_size())));
}

std::string fingerprint_text(const RunConfig& cfg, const std::string& reference_hash) {
  const YAML::Node root = YAML::Load(cfg.resolved_yaml);
  std::ostringstream s;
  for (const char* section : {"field", "references"}) {
    for (const auto& kv : root[section]) {
      // A preset only sets other field.* keys, which are fingerprinted.
      if (kv.first.as<std::string>() == "preset") continue;
      YAML::Emitter e;
      e << YAML::Flow << kv.second;
      s << section << "." << kv.first.as<std::string>() << ": " << e.c_str() << "\n";
    }
  }
  s << "run.block: " << cfg.block << "\n";
  // Keys added after checkpoints existed appear only when not at their
  // default, so that those checkpoints keep their fingerprint.
  if (cfg.precision != at::kFloat) s << "run.precision: " << precision_name(cfg.precision) << "\n";
  s << "references.data_hash: " << reference_hash << "\n";
  return s.str();
}

std::string shard_fingerprint(const std::string& run_fingerprint, const std::string& model_key, int64_t block) {
  const std::string text = run_fingerprint + "|" + model_key + "|" + std::to_string(block);
  return hex64(fnv1a(text.data(), text.size()));
}

Checkpoint::Checkpoint(std::string dir) : dir_(std::move(dir)) {}

bool Checkpoint::has_manifest() const {
  std::error_code ec;
  return fs::exists(dir_ + "/MANIFEST.h5", ec);
}

Manifest Checkpoint::read_manifest() const {
  const std::string path = dir_ + "/MANIFEST.h5";
  Manifest m;
  try {
    auto f = h5::File::open(path);
    m.fingerprint = h5::get_attr_string(f.id(), "/", "fingerprint");
    m.text = h5::get_attr_string(f.id(), "/", "fingerprint_text");
    m.config = h5::get_attr_string(f.id(), "/", "config");
    m.references = h5::get_attr_int(f.id(), "/", "references");
    m.block = h5::get_attr_int(f.id(), "/", "block");
    m.blocks = h5::get_attr_int(f.id(), "/", "blocks");
    m.steps_kept = h5::get_attr_int(f.id(), "/", "steps_kept");
    m.features = h5::get_attr_int(f.id(), "/", "features");
    m.max_points = h5::get_attr_int(f.id(), "/", "max_points");
    // Older manifests: tuned before memory formats were (contiguous).
    m.memory_format =
        h5::has_attr(f.id(), "/", "memory_format") ? h5::get_attr_string(f.id(), "/", "memory_format") : "contiguous";
    const auto names = h5::read_strings(f.id(), "/models/names");
    const auto hashes = h5::read_strings(f.id(), "/models/hashes");
    for (size_t i = 0; i < names.size() && i < hashes.size(); ++i) m.models[names[i]] = hashes[i];
    if (h5::exists(f.id(), "/models/paths")) {  // older manifests did not keep them
      const auto paths = h5::read_strings(f.id(), "/models/paths");
      for (size_t i = 0; i < names.size() && i < paths.size(); ++i) m.paths[names[i]] = paths[i];
    }
    m.order = h5::read_strings(f.id(), "/models/order");
    // Manifests of older modelgif versions have no checksum: read as they are.
    if (h5::has_attr(f.id(), "/", "checksum") && h5::get_attr_int(f.id(), "/", "checksum") != checksum(m))
      throw InputError("checkpoint " + path +
                       " is damaged (checksum mismatch); run with --recompute to start it again");
  } catch (const StoreError& e) {
    throw InputError("checkpoint " + path + " is unreadable (" + e.what() + "); remove it or run with --recompute");
  }
  return m;
}

void Checkpoint::write_manifest(const Manifest& m) const {
  ensure_dir(dir_, "checkpoint");
  h5::write_file(dir_ + "/MANIFEST.h5", [&](hid_t f) {
    h5::set_attr(f, "/", "fingerprint", m.fingerprint);
    h5::set_attr(f, "/", "fingerprint_text", m.text);
    h5::set_attr(f, "/", "config", m.config);
    h5::set_attr(f, "/", "references", m.references);
    h5::set_attr(f, "/", "block", m.block);
    h5::set_attr(f, "/", "blocks", m.blocks);
    h5::set_attr(f, "/", "steps_kept", m.steps_kept);
    h5::set_attr(f, "/", "features", m.features);
    h5::set_attr(f, "/", "max_points", m.max_points);
    h5::set_attr(f, "/", "memory_format", m.memory_format);
    std::vector<std::string> names, hashes, paths;
    for (const auto& [n, h] : m.models) {
      names.push_back(n), hashes.push_back(h);
      const auto p = m.paths.find(n);
      paths.push_back(p == m.paths.end() ? "" : p->second);
    }
    h5::write_strings(f, "/models/names", names);
    h5::write_strings(f, "/models/hashes", hashes);
    h5::write_strings(f, "/models/paths", paths);
    h5::write_strings(f, "/models/order", m.order);
    h5::set_attr(f, "/", "checksum", checksum(m));
  });
}

void Checkpoint::wipe() const {
  std::error_code ec;
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() != "LOCK") entries.push_back(it->path());  // the lock stays where a second run looks
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw_input("checkpoint " + dir_ + ": cannot list it: " + ec.message());
  for (const auto& p : entries)
    if (fs::remove_all(p, ec), ec)
      throw_input("checkpoint " + dir_ + ": cannot remove " + p.string() + ": " + ec.message());
}

void Checkpoint::remove_model(const std::string& name) const {
  std::error_code ec;
  fs::remove_all(dir_ + "/fields/" + name, ec);
}

bool Checkpoint::holds_work(const std::string& model) const {
  const std::string root = model.empty() ? dir_ : dir_ + "/fields/" + model;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".h5" && it->path().filename() != "MANIFEST.h5") return true;
  return false;
}

std::string Checkpoint::field_path(const std::string& model, int64_t block) const {
  std::ostringstream s;
  s << dir_ << "/fields/" << model << "/b" << std::setw(6) << std::setfill('0') << block << ".h5";
  return s.str();
}

ShardStatus Checkpoint::probe(const std::string& model, int64_t block, const std::string& fingerprint, int64_t rows,
                              bool verify) const {
  ShardStatus st;
  const std::string path = field_path(model, block);
  std::error_code ec;
  if (!fs::exists(path, ec)) return st;
  try {
    auto f = h5::File::open(path);
    const std::string fp = h5::get_attr_string(f.id(), "/", "fingerprint");
    if (fp != fingerprint) {
      st.kind = ShardStatus::Mismatch;
      st.reason = "its fingerprint " + fp + " is not this run's " + fingerprint;
      return st;
    }
    const int64_t stored_rows = h5::get_attr_int(f.id(), "/", "rows");
    st.completed = h5::get_attr_int(f.id(), "/", "completed");
    if (stored_rows != rows || st.completed > rows || st.completed < 0) {
      st.kind = ShardStatus::Corrupt;
      st.reason = "it holds " + std::to_string(stored_rows) + " rows, expected " + std::to_string(rows);
      return st;
    }
    const auto d = h5::dims(f.id(), "/field");
    if (static_cast<int64_t>(d[0]) != st.completed) throw StoreError("field rows do not match 'completed'");
    st.kind = st.completed == rows ? ShardStatus::Complete : ShardStatus::Partial;
    if (!verify) return st;
    const auto v = h5::read_f32(f.id(), "/field");
    const auto field = at::from_blob(const_cast<float*>(v.data()), {static_cast<int64_t>(v.size())}, at::kFloat);
    const auto moments = h5::exists(f.id(), "/moments") ? h5::read_f64(f.id(), "/moments") : std::vector<double>{};
    if (checksum(field, moments) != h5::get_attr_int(f.id(), "/", "checksum")) {
      st.kind = ShardStatus::Corrupt;
      st.reason = "checksum mismatch";
      st.completed = 0;
      return st;
    }
  } catch (const std::exception& e) {  // HDF5 errors, or sizes from a garbled header
    st.kind = ShardStatus::Corrupt;
    st.completed = 0;
    st.reason = std::string("unreadable (") + e.what() + ")";
  }
  return st;
}

void Checkpoint::write_field(const std::string& model, int64_t block, const std::string& fingerprint,
                             const at::Tensor& field, int64_t completed, int64_t rows,
                             const FeatureMoments* moments) const {
  const std::string path = field_path(model, block);
  ensure_parent_dir(path, "checkpoint " + dir_);
  const at::Tensor done = field.slice(0, 0, completed).to(at::kCPU, at::kFloat).contiguous();
  const std::vector<double> mom = moments ? moments->raw() : std::vector<double>{};
  h5::write_file(path, [&](hid_t f) {
    h5::write(
        f, "/field", h5::Type::F32,
        {static_cast<hsize_t>(completed), static_cast<hsize_t>(field.size(1)), static_cast<hsize_t>(field.size(2))},
        done.data_ptr());
    if (!mom.empty()) h5::write(f, "/moments", h5::Type::F64, {mom.size()}, mom.data());
    h5::set_attr(f, "/", "fingerprint", fingerprint);
    h5::set_attr(f, "/", "model", model);
    h5::set_attr(f, "/", "block", block);
    h5::set_attr(f, "/", "rows", rows);
    h5::set_attr(f, "/", "completed", completed);
    h5::set_attr(f, "/", "checksum", checksum(done, mom));
  });
}

at::Tensor Checkpoint::read_field(const std::string& model, int64_t block, FeatureMoments* moments) const {
  const std::string path = field_path(model, block);
  try {
    auto f = h5::File::open(path);
    const auto d = h5::dims(f.id(), "/field");
    at::Tensor t =
        at::empty({static_cast<int64_t>(d[0]), static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2])}, at::kFloat);
    h5::read_f32_into(f.id(), "/field", t.data_ptr<float>());
    if (moments && h5::exists(f.id(), "/moments")) moments->raw() = h5::read_f64(f.id(), "/moments");
    return t;
  } catch (const StoreError& e) {
    throw InputError("checkpoint shard " + path + ": " + e.what());
  }
}

at::Tensor Checkpoint::read_checked_field(const std::string& model, int64_t block, const std::string& fingerprint,
                                          int64_t rows, FeatureMoments* moments) const {
  const std::string path = field_path(model, block);
  const auto fail = [&](const std::string& why) -> at::Tensor {
    throw InputError("checkpoint shard " + path + " cannot be used: " + why);
  };
  try {
    auto f = h5::File::open(path);
    const std::string fp = h5::get_attr_string(f.id(), "/", "fingerprint");
    if (fp != fingerprint) return fail("its fingerprint " + fp + " is not " + fingerprint);
    if (h5::get_attr_int(f.id(), "/", "rows") != rows || h5::get_attr_int(f.id(), "/", "completed") != rows)
      return fail("it is not a complete shard of " + std::to_string(rows) + " references");
    const auto d = h5::dims(f.id(), "/field");
    if (d.size() != 3 || static_cast<int64_t>(d[0]) != rows) return fail("its field has other rows than 'completed'");
    at::Tensor t = at::empty({rows, static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2])}, at::kFloat);
    h5::read_f32_into(f.id(), "/field", t.data_ptr<float>());
    const auto mom = h5::exists(f.id(), "/moments") ? h5::read_f64(f.id(), "/moments") : std::vector<double>{};
    if (checksum(t, mom) != h5::get_attr_int(f.id(), "/", "checksum")) return fail("checksum mismatch");
    if (moments) moments->raw() = mom;
    return t;
  } catch (const StoreError& e) {
    return fail(std::string("unreadable (") + e.what() + ")");
  }
}

FeatureMoments Checkpoint::read_moments(const std::string& model, int64_t block, int64_t features) const {
  const std::string path = field_path(model, block);
  FeatureMoments m(features);
  try {
    auto f = h5::File::open(path);
    auto v = h5::read_f64(f.id(), "/moments");
    if (v.size() != m.raw().size()) throw StoreError("moments of " + std::to_string(v.size()) + " values");
    m.raw() = std::move(v);
  } catch (const StoreError& e) {
    throw InputError("checkpoint shard " + path + ": " + e.what());
  }
  return m;
}

}  // namespace modelgif
