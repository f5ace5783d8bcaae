// Phase 6: the checkpoint against this run; and the manifest it leaves.
#include <map>
#include <sstream>

#include "base/hash.hpp"
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

// Rank 0: the manifest found in the checkpoint, with whatever does not belong
// to this run refused (or, with --recompute, discarded).
Manifest reconciled_manifest(const RunContext& run, const Plan& plan, const Reconciled& rec,
                             const CheckpointStore& store) {
  const RunConfig& cfg = run.cfg;
  Manifest man;
  if (!store.has_manifest()) return man;
  try {
    man = store.read_manifest();
  } catch (const InputError&) {
    if (!run.opt.recompute) throw;
    store.wipe();
    return Manifest();
  }
  if (man.fingerprint != rec.fingerprint) {
    const std::string diff = describe_mismatch(man.text, rec.text);
    if (!run.opt.recompute && store.holds_work())
      throw_input("checkpoint " + store.dir() + " belongs to another configuration (" + diff +
                  "); rerun with --recompute to discard it");
    run.log.out() << "checkpoint: configuration changed (" << diff << "): discarded\n";
    store.wipe();
    return Manifest();
  }
  for (size_t i = 0; i < cfg.zoo.size(); ++i) {
    const ModelId& id = plan.ids[i];
    const ModelRecord* was = man.find(id.name);
    if (was == nullptr || was->id.hash == id.hash) continue;
    const bool moved = !was->path.empty() && was->path != cfg.zoo[i].path;
    if (!run.opt.recompute && store.holds_work(id.name))
      throw_input("model '" + id.name + "': " +
                  (moved ? "now " + cfg.zoo[i].path + ", another file than " + was->path + " that checkpoint " +
                               store.dir() + " was made with"
                         : cfg.zoo[i].path + " changed since checkpoint " + store.dir() + " was made") +
                  " (file hash " + was->id.hash + ", now " + id.hash +
                  "); rerun with --recompute to recompute its fields");
    run.log.out() << "checkpoint: model '" << id.name << "' changed: its shards are discarded\n";
    store.remove_model(id.name);
  }
  return man;
}

}  // namespace

Reconciled reconcile_checkpoint(const RunContext& run, const Plan& plan, const Inputs& in,
                                const CheckpointStore& store) {
  Reconciled rec;
  const std::string data = tensor_digest(in.refs.images) +
                           (in.refs.labels.defined() ? "+labels:" + tensor_digest(in.refs.labels) : std::string());
  rec.text = fingerprint_text(run.cfg, data);
  rec.fingerprint = hex64(fnv1a(rec.text));
  comm::collective(run.world, [&] {
    if (plan.rank == 0) rec.found = reconciled_manifest(run, plan, rec, store);
  });
  return rec;
}

void write_manifest(const RunContext& run, const Plan& plan, const Reconciled& rec, const Tuned& tuning,
                    const CheckpointStore& store) {
  const RunConfig& cfg = run.cfg;
  comm::collective(run.world, [&] {
    if (plan.rank != 0) return;
    Manifest man = rec.found;
    man.fingerprint = rec.fingerprint, man.text = rec.text, man.config = cfg.resolved_yaml;
    man.references = plan.N, man.block = cfg.block, man.blocks = plan.B, man.tuning = tuning;
    man.steps_kept = plan.S, man.features = plan.D, man.fields = cfg.checkpoint_fields;
    man.order = plan.names;
    for (size_t i = 0; i < cfg.zoo.size(); ++i) {
      const ModelRecord now{plan.ids[i], cfg.zoo[i].path};
      bool found = false;
      for (auto& r : man.models)
        if (r.id.name == now.id.name) r = now, found = true;
      if (!found) man.models.push_back(now);
    }
    store.write_manifest(man);
  });
}

}  // namespace modelgif
