#include "run/store.hpp"

#include <ATen/ATen.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "base/files.hpp"
#include "base/hash.hpp"
#include "base/text.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "run/checksum.hpp"

namespace fs = std::filesystem;

namespace modelgif {
namespace {

std::atomic<int64_t> g_shards_read{0};

const char* fields_name(CheckpointFields f) { return f == CheckpointFields::Keep ? "keep" : "none"; }

// A manifest's CRC-32: every field it holds, in a fixed order.
int64_t checksum(const Manifest& m) {
  std::vector<std::string> lines = {std::to_string(kCheckpointFormat),   m.fingerprint,        m.text, m.config,
                                    memory_format_name(m.tuning.format), fields_name(m.fields)};
  for (const int64_t v : {m.references, m.block, m.blocks, m.steps_kept, m.features, m.tuning.max_points})
    lines.push_back(std::to_string(v));
  for (const auto& r : m.models) lines.push_back(r.id.key() + " " + r.path);
  lines.insert(lines.end(), m.order.begin(), m.order.end());
  return Crc32().add(lines).value();
}

int64_t checksum(const at::Tensor& field, const std::vector<double>& moments) {
  return Crc32().add(field.data_ptr(), static_cast<size_t>(field.numel()) * 4).add(moments).value();
}

// A field on the host: a device's through pinned memory (the fastest copy a GPU makes).
at::Tensor to_host(const at::Tensor& t) {
  if (!t.is_cuda()) return t.to(at::kFloat).contiguous();
  at::Tensor host = at::empty(t.sizes(), at::TensorOptions().dtype(at::kFloat).pinned_memory(true));
  host.copy_(t);
  return host;
}

std::string block_file(const std::string& root, const std::string& model, int64_t block) {
  std::ostringstream s;
  s << root << "/" << model << "/b" << std::setw(6) << std::setfill('0') << block << ".h5";
  return s.str();
}

}  // namespace

const ModelRecord* Manifest::find(const std::string& name) const {
  for (const auto& r : models)
    if (r.id.name == name) return &r;
  return nullptr;
}

std::string tensor_digest(const at::Tensor& t) {
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
  s << "run.precision: " << precision_name(cfg.precision) << "\n";
  s << "references.data_hash: " << reference_hash << "\n";
  return s.str();
}

CheckpointStore::CheckpointStore(std::string dir) : dir_(std::move(dir)) {}

bool CheckpointStore::has_manifest() const {
  std::error_code ec;
  return fs::exists(dir_ + "/MANIFEST.h5", ec);
}

Manifest CheckpointStore::read_manifest() const {
  const std::string path = dir_ + "/MANIFEST.h5";
  Manifest m;
  try {
    auto f = h5::File::open(path);
    const int64_t format = h5::has_attr(f.id(), "/", "format") ? h5::get_attr_int(f.id(), "/", "format") : 1;
    if (format != kCheckpointFormat)
      throw InputError("checkpoint " + dir_ + " was made by another modelgif (checkpoint format " +
                       std::to_string(format) + ", this one reads " + std::to_string(kCheckpointFormat) +
                       "); rerun with --recompute to start it again");
    m.fingerprint = h5::get_attr_string(f.id(), "/", "fingerprint");
    m.text = h5::get_attr_string(f.id(), "/", "fingerprint_text");
    m.config = h5::get_attr_string(f.id(), "/", "config");
    m.references = h5::get_attr_int(f.id(), "/", "references");
    m.block = h5::get_attr_int(f.id(), "/", "block");
    m.blocks = h5::get_attr_int(f.id(), "/", "blocks");
    m.steps_kept = h5::get_attr_int(f.id(), "/", "steps_kept");
    m.features = h5::get_attr_int(f.id(), "/", "features");
    m.tuning.max_points = h5::get_attr_int(f.id(), "/", "max_points");
    m.tuning.format = parse_memory_format(h5::get_attr_string(f.id(), "/", "memory_format"));
    m.fields = h5::get_attr_string(f.id(), "/", "fields") == "none" ? CheckpointFields::None : CheckpointFields::Keep;
    const auto names = h5::read_strings(f.id(), "/models/names");
    const auto hashes = h5::read_strings(f.id(), "/models/hashes");
    const auto paths = h5::read_strings(f.id(), "/models/paths");
    if (hashes.size() != names.size() || paths.size() != names.size())
      throw StoreError("the model lists differ in length");
    for (size_t i = 0; i < names.size(); ++i) m.models.push_back({{names[i], hashes[i]}, paths[i]});
    m.order = h5::read_strings(f.id(), "/models/order");
    if (h5::get_attr_int(f.id(), "/", "checksum") != checksum(m))
      throw InputError("checkpoint " + path +
                       " is damaged (checksum mismatch); run with --recompute to start it again");
  } catch (const StoreError& e) {
    throw InputError("checkpoint " + path + " is unreadable (" + e.what() + "); remove it or run with --recompute");
  } catch (const UsageError& e) {  // a memory format this modelgif does not know
    throw InputError("checkpoint " + path + " is unreadable (" + e.what() + "); remove it or run with --recompute");
  }
  return m;
}

void CheckpointStore::write_manifest(const Manifest& m) const {
  ensure_dir(dir_, "checkpoint");
  h5::write_file(dir_ + "/MANIFEST.h5", [&](hid_t f) {
    h5::set_attr(f, "/", "format", kCheckpointFormat);
    h5::set_attr(f, "/", "fingerprint", m.fingerprint);
    h5::set_attr(f, "/", "fingerprint_text", m.text);
    h5::set_attr(f, "/", "config", m.config);
    h5::set_attr(f, "/", "references", m.references);
    h5::set_attr(f, "/", "block", m.block);
    h5::set_attr(f, "/", "blocks", m.blocks);
    h5::set_attr(f, "/", "steps_kept", m.steps_kept);
    h5::set_attr(f, "/", "features", m.features);
    h5::set_attr(f, "/", "max_points", m.tuning.max_points);
    h5::set_attr(f, "/", "memory_format", memory_format_name(m.tuning.format));
    h5::set_attr(f, "/", "fields", fields_name(m.fields));
    std::vector<std::string> names, hashes, paths;
    for (const auto& r : m.models) names.push_back(r.id.name), hashes.push_back(r.id.hash), paths.push_back(r.path);
    h5::write_strings(f, "/models/names", names);
    h5::write_strings(f, "/models/hashes", hashes);
    h5::write_strings(f, "/models/paths", paths);
    h5::write_strings(f, "/models/order", m.order);
    h5::set_attr(f, "/", "checksum", checksum(m));
  });
}

void CheckpointStore::wipe() const {
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

void CheckpointStore::remove_model(const std::string& name) const {
  std::error_code ec;
  fs::remove_all(dir_ + "/fields/" + name, ec);
  fs::remove_all(dir_ + "/moments/" + name, ec);
}

bool CheckpointStore::holds_work(const std::string& model) const {
  std::error_code ec;
  for (const char* kind : {"/fields", "/moments", "/pairs"}) {
    if (!model.empty() && std::string(kind) == "/pairs") continue;
    const std::string root = dir_ + kind + (model.empty() ? "" : "/" + model);
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".h5") return true;
    ec.clear();
  }
  return false;
}

std::string CheckpointStore::shard_path(const std::string& model, int64_t block) const {
  return block_file(dir_ + "/fields", model, block);
}

ShardStatus CheckpointStore::probe(const ShardId& s, bool verify) const {
  ShardStatus st;
  const std::string path = shard_path(s.model.name, s.block);
  std::error_code ec;
  if (!fs::exists(path, ec)) return st;
  try {
    auto f = h5::File::open(path);
    const std::string fp = h5::get_attr_string(f.id(), "/", "fingerprint");
    if (fp != s.fingerprint) {
      st.kind = ShardStatus::Mismatch;
      st.reason = "its fingerprint " + fp + " is not this run's " + s.fingerprint;
      return st;
    }
    const int64_t stored_rows = h5::get_attr_int(f.id(), "/", "rows");
    st.completed = h5::get_attr_int(f.id(), "/", "completed");
    if (stored_rows != s.rows || st.completed > s.rows || st.completed < 0) {
      st.kind = ShardStatus::Corrupt;
      st.reason = "it holds " + std::to_string(stored_rows) + " rows, expected " + std::to_string(s.rows);
      st.completed = 0;
      return st;
    }
    const auto d = h5::dims(f.id(), "/field");
    if (d.size() != 3 || static_cast<int64_t>(d[0]) != st.completed)
      throw StoreError("field rows do not match 'completed'");
    st.kind = st.completed == s.rows ? ShardStatus::Complete : ShardStatus::Partial;
    if (!verify) return st;
    ++g_shards_read;
    at::Tensor t = at::empty({st.completed, static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2])}, at::kFloat);
    h5::read_f32_into(f.id(), "/field", t.data_ptr<float>());
    const auto moments = h5::exists(f.id(), "/moments") ? h5::read_f64(f.id(), "/moments") : std::vector<double>{};
    if (checksum(t, moments) != h5::get_attr_int(f.id(), "/", "checksum")) {
      st.kind = ShardStatus::Corrupt;
      st.reason = "checksum mismatch";
      st.completed = 0;
    }
  } catch (const std::exception& e) {  // HDF5 errors, or sizes from a garbled header
    st.kind = ShardStatus::Corrupt;
    st.completed = 0;
    st.reason = std::string("unreadable (") + e.what() + ")";
  }
  return st;
}

void CheckpointStore::write_shard(const ShardId& s, const at::Tensor& field, int64_t completed,
                                  const FeatureMoments* moments) const {
  const std::string path = shard_path(s.model.name, s.block);
  ensure_parent_dir(path, "checkpoint " + dir_);
  const at::Tensor done = to_host(field.slice(0, 0, completed));
  const std::vector<double> mom = moments ? moments->raw() : std::vector<double>{};
  h5::write_file(path, [&](hid_t f) {
    h5::write(
        f, "/field", h5::Type::F32,
        {static_cast<hsize_t>(completed), static_cast<hsize_t>(field.size(1)), static_cast<hsize_t>(field.size(2))},
        done.data_ptr());
    if (!mom.empty()) h5::write(f, "/moments", h5::Type::F64, {mom.size()}, mom.data());
    h5::set_attr(f, "/", "fingerprint", s.fingerprint);
    h5::set_attr(f, "/", "model", s.model.name);
    h5::set_attr(f, "/", "block", s.block);
    h5::set_attr(f, "/", "rows", s.rows);
    h5::set_attr(f, "/", "completed", completed);
    h5::set_attr(f, "/", "checksum", checksum(done, mom));
    h5::set_attr(f, "/", "peak", exact(done.numel() ? done.abs().max().item<double>() : 0.0));
  });
}

double CheckpointStore::shard_peak(const ShardId& s) const {
  const std::string path = shard_path(s.model.name, s.block);
  auto f = h5::File::open(path);
  if (h5::get_attr_string(f.id(), "/", "fingerprint") != s.fingerprint)
    throw InputError("checkpoint shard " + path + " does not belong to this run");
  return std::stod(h5::get_attr_string(f.id(), "/", "peak"));
}

int64_t CheckpointStore::shards_read() { return g_shards_read.load(); }

at::Tensor CheckpointStore::read_shard(const ShardId& s, FeatureMoments* moments) const {
  ++g_shards_read;
  const std::string path = shard_path(s.model.name, s.block);
  const auto fail = [&](const std::string& why) -> at::Tensor {
    throw InputError("checkpoint shard " + path + " cannot be used: " + why);
  };
  try {
    auto f = h5::File::open(path);
    const std::string fp = h5::get_attr_string(f.id(), "/", "fingerprint");
    if (fp != s.fingerprint) return fail("its fingerprint " + fp + " is not " + s.fingerprint);
    if (h5::get_attr_int(f.id(), "/", "rows") != s.rows || h5::get_attr_int(f.id(), "/", "completed") != s.rows)
      return fail("it is not a complete shard of " + std::to_string(s.rows) + " references");
    const auto d = h5::dims(f.id(), "/field");
    if (d.size() != 3 || static_cast<int64_t>(d[0]) != s.rows) return fail("its field has other rows than 'completed'");
    at::Tensor t = at::empty({s.rows, static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2])}, at::kFloat);
    h5::read_f32_into(f.id(), "/field", t.data_ptr<float>());
    const auto mom = h5::exists(f.id(), "/moments") ? h5::read_f64(f.id(), "/moments") : std::vector<double>{};
    if (checksum(t, mom) != h5::get_attr_int(f.id(), "/", "checksum")) return fail("checksum mismatch");
    if (moments) moments->raw() = mom;
    return t;
  } catch (const StoreError& e) {
    return fail(std::string("unreadable (") + e.what() + ")");
  }
}

at::Tensor CheckpointStore::read_partial(const ShardId& s) const {
  ++g_shards_read;
  const std::string path = shard_path(s.model.name, s.block);
  auto f = h5::File::open(path);
  const auto d = h5::dims(f.id(), "/field");
  at::Tensor t =
      at::empty({static_cast<int64_t>(d[0]), static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2])}, at::kFloat);
  h5::read_f32_into(f.id(), "/field", t.data_ptr<float>());
  return t;
}

void CheckpointStore::remove_shards() const {
  std::error_code ec;
  fs::remove_all(dir_ + "/fields", ec);
  if (ec) throw_input("checkpoint " + dir_ + ": cannot remove its field shards: " + ec.message());
}

std::optional<FeatureMoments> CheckpointStore::read_moments(const ShardId& s, int64_t features, bool from_shard) const {
  const std::string shard = from_shard ? shard_path(s.model.name, s.block) : std::string();
  for (const std::string& path : {shard, block_file(dir_ + "/moments", s.model.name, s.block)}) {
    if (path.empty()) continue;
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    try {
      auto f = h5::File::open(path);
      if (h5::get_attr_string(f.id(), "/", "fingerprint") != s.fingerprint || !h5::exists(f.id(), "/moments")) continue;
      FeatureMoments m(features);
      auto v = h5::read_f64(f.id(), "/moments");
      if (v.size() != m.raw().size()) continue;
      // Moments files carry their own checksum; a shard's covers its field too
      // and is checked when the field is read.
      if (path != shard && Crc32().add(v).value() != h5::get_attr_int(f.id(), "/", "moments_checksum")) continue;
      m.raw() = std::move(v);
      return m;
    } catch (const StoreError&) {
    }
  }
  return std::nullopt;
}

void CheckpointStore::write_moments(const ShardId& s, const FeatureMoments& moments) const {
  const std::string path = block_file(dir_ + "/moments", s.model.name, s.block);
  ensure_parent_dir(path, "checkpoint " + dir_);
  h5::write_file(path, [&](hid_t f) {
    h5::write(f, "/moments", h5::Type::F64, {moments.raw().size()}, moments.raw().data());
    h5::set_attr(f, "/", "fingerprint", s.fingerprint);
    h5::set_attr(f, "/", "model", s.model.name);
    h5::set_attr(f, "/", "block", s.block);
    h5::set_attr(f, "/", "moments_checksum", Crc32().add(moments.raw()).value());
  });
}

std::string CheckpointStore::sums_path(SumKind kind, int64_t block) const {
  return dir_ + "/pairs/" + to_string(kind) + "-b" + std::to_string(block) + ".h5";
}

std::optional<PairSums> CheckpointStore::read_sums(SumKind kind, int64_t block, const std::string& fingerprint,
                                                   std::string* problem) const {
  const std::string path = sums_path(kind, block);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::string why;
  try {
    auto f = h5::File::open(path);
    if (h5::get_attr_string(f.id(), "/", "fingerprint") != fingerprint) {
      why = "made for another run";
    } else {
      const auto keys = h5::read_strings(f.id(), "/keys");
      auto sums = h5::read_f64(f.id(), "/sums");
      if (sums.size() != static_cast<size_t>(PairSums::kSums) * keys.size() * keys.size()) {
        why = "it holds " + std::to_string(sums.size()) + " sums for " + std::to_string(keys.size()) + " models";
      } else if (Crc32().add(keys).add(sums).value() != h5::get_attr_int(f.id(), "/", "checksum")) {
        why = "checksum mismatch";
      } else {
        std::vector<ModelId> models;
        for (const auto& k : keys) {
          const auto at = k.rfind('@');
          models.push_back({k.substr(0, at), at == std::string::npos ? "" : k.substr(at + 1)});
        }
        return PairSums(std::move(models), std::move(sums));
      }
    }
  } catch (const StoreError& e) {
    why = std::string("unreadable: ") + e.what();
  }
  if (problem) *problem = "pair sums " + path + " are not used (" + why + ")";
  return std::nullopt;
}

void CheckpointStore::write_sums(SumKind kind, int64_t block, const PairSums& sums,
                                 const std::string& fingerprint) const {
  ensure_dir(dir_ + "/pairs", "checkpoint " + dir_);
  std::vector<std::string> keys;
  for (const auto& m : sums.models()) keys.push_back(m.key());
  h5::write_file(sums_path(kind, block), [&](hid_t f) {
    h5::write_strings(f, "/keys", keys);
    const hsize_t K = keys.size();
    h5::write(f, "/sums", h5::Type::F64, {static_cast<hsize_t>(PairSums::kSums), K, K}, sums.raw().data());
    h5::set_attr(f, "/", "fingerprint", fingerprint);
    h5::set_attr(f, "/", "checksum", Crc32().add(keys).add(sums.raw()).value());
  });
}

CheckpointStore::Counts CheckpointStore::count_files(double since) const {
  Counts c;
  std::error_code ec;
  const auto changed_since = [&](const fs::path& p) {
    if (since <= 0) return true;
    std::error_code e;
    const auto t = fs::last_write_time(p, e);
    if (e) return false;
    const auto sys = std::chrono::time_point_cast<std::chrono::seconds>(t - fs::file_time_type::clock::now() +
                                                                        std::chrono::system_clock::now());
    return static_cast<double>(sys.time_since_epoch().count()) >= since;
  };
  for (const auto& [kind, count] :
       {std::pair<const char*, int64_t*>{"/fields", &c.shards}, {"/moments", &c.moments}, {"/pairs", &c.sums}}) {
    for (fs::recursive_directory_iterator it(dir_ + kind, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".h5" && changed_since(it->path())) ++*count;
    ec.clear();
  }
  return c;
}

}  // namespace modelgif
