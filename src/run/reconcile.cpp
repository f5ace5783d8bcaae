// Phase 5: the checkpoint against this run; the numerics (tune.cpp); the manifest.
#include <map>
#include <sstream>

#include "modelgif/error.hpp"
#include "run/phases.hpp"

namespace modelgif {
namespace {

// "field.steps was 50, now 20, ...": the keys of two fingerprint texts that differ.
std::string describe_mismatch(const std::string& old_text, const std::string& new_text) {
  std::map<std::string, std::string> a, b;
  auto parse = [](const std::string& text, std::map<std::string, std::string>& out) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      const auto colon = line.find(": ");
      if (colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 2);
    }
  };
  parse(old_text, a), parse(new_text, b);
  for (auto* text : {&a, &b})  // keys a fingerprint holds only when not at their default
    text->emplace("run.precision", "float32");
  std::string diff;
  auto keys = a;
  keys.insert(b.begin(), b.end());
  for (const auto& key : keys) {
    const std::string& k = key.first;
    const std::string was = a[k], now = b[k];
    if (was != now)
      diff += (diff.empty() ? "" : ", ") + k + " was " + (was.empty() ? "unset" : was) + ", now " +
              (now.empty() ? "unset" : now);
  }
  return diff.empty() ? "fingerprints differ" : diff;
}

// A checkpoint whose configuration is this run's, spelled otherwise: made
// before values were normalized (`0.2860` for `0.286`, `yes` for `true`).
// Its stored config, read again, gives this run's fingerprint text.
bool same_config_spelled_otherwise(const Manifest& man, const std::string& text) {
  const std::string key = "references.data_hash: ";
  const auto at = man.text.find(key);
  if (man.config.empty() || at == std::string::npos) return false;
  const std::string data = man.text.substr(at + key.size(), man.text.find('\n', at) - at - key.size());
  try {
    return fingerprint_text(load_config(man.config, "the checkpoint's config"), data) == text;
  } catch (const Error&) {
    return false;
  }
}

// Rank 0: the manifest found in the checkpoint, with whatever does not belong
// to this run refused (or, with --recompute, discarded).
Manifest reconciled_manifest(RunState& run) {
  const Checkpoint& ckpt = run.ckpt;
  const RunConfig& cfg = run.cfg;
  Plan& plan = run.plan;
  Manifest man;
  if (!ckpt.has_manifest()) return man;
  try {
    man = ckpt.read_manifest();
  } catch (const InputError&) {
    if (!run.opt.recompute) throw;
    ckpt.wipe();
  }
  if (!man.fingerprint.empty() && man.fingerprint != plan.fingerprint &&
      same_config_spelled_otherwise(man, run.fingerprint_text)) {
    if (man.text != run.fingerprint_text)  // said once: the manifest is rewritten with this spelling
      run.log << "checkpoint: its configuration is this run's, spelled otherwise: its shards are reused\n";
    plan.fingerprint = man.fingerprint;  // the shards and pair caches are keyed by it
  }
  if (!man.fingerprint.empty() && man.fingerprint != plan.fingerprint) {
    const std::string diff = describe_mismatch(man.text, run.fingerprint_text);
    if (!run.opt.recompute && ckpt.holds_work())
      throw_input("checkpoint " + ckpt.dir() + " belongs to another configuration (" + diff +
                  "); rerun with --recompute to discard it");
    run.log << "checkpoint: configuration changed (" << diff << "): discarded\n";
    ckpt.wipe();
    man = Manifest();
  }
  for (size_t i = 0; i < cfg.zoo.size(); ++i) {
    const auto& name = cfg.zoo[i].name;
    const std::string& key = plan.keys[i];
    const std::string hash = key.substr(key.rfind('@') + 1);
    const auto it = man.models.find(name);
    if (it == man.models.end() || it->second == hash) continue;
    const auto was = man.paths.find(name);
    const bool moved = was != man.paths.end() && !was->second.empty() && was->second != cfg.zoo[i].path;
    if (!run.opt.recompute && ckpt.holds_work(name))
      throw_input("model '" + name + "': " +
                  (moved ? "now " + cfg.zoo[i].path + ", another file than " + was->second + " that checkpoint " +
                               ckpt.dir() + " was made with"
                         : cfg.zoo[i].path + " changed since checkpoint " + ckpt.dir() + " was made") +
                  " (file hash " + it->second + ", now " + hash + "); rerun with --recompute to recompute its fields");
    run.log << "checkpoint: model '" << name << "' changed: its shards are discarded\n";
    ckpt.remove_model(name);
  }
  return man;
}

}  // namespace

void reconcile_checkpoint(RunState& run) {
  auto& plan = run.plan;
  const RunConfig& cfg = run.cfg;
  const std::string data = hash_tensor(run.refs.images) +
                           (run.refs.labels.defined() ? "+labels:" + hash_tensor(run.refs.labels) : std::string());
  run.fingerprint_text = fingerprint_text(cfg, data);
  plan.fingerprint = hex64(fnv1a(run.fingerprint_text));
  Manifest man;
  comm::collective(run.world, [&] {
    if (plan.rank == 0) man = reconciled_manifest(run);
  });
  choose_numerics(run, man);
  comm::collective(run.world, [&] {
    if (plan.rank != 0) return;
    man.fingerprint = plan.fingerprint, man.text = run.fingerprint_text, man.config = cfg.resolved_yaml;
    man.references = plan.N, man.block = cfg.block, man.blocks = plan.B, man.max_points = run.max_points;
    man.memory_format = memory_format_name(run.numerics.format);
    man.steps_kept = plan.S, man.features = plan.D;
    man.order = plan.names;
    for (size_t i = 0; i < cfg.zoo.size(); ++i) {
      man.models[cfg.zoo[i].name] = plan.keys[i].substr(plan.keys[i].rfind('@') + 1);
      man.paths[cfg.zoo[i].name] = cfg.zoo[i].path;
    }
    run.ckpt.write_manifest(man);
  });
  plan.fingerprint = run.world.bcast(plan.fingerprint);  // rank 0 may have kept the checkpoint's
}

}  // namespace modelgif
