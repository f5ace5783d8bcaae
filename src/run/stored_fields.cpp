#include "run/stored_fields.hpp"

#include <ATen/ATen.h>

#include <algorithm>

#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "modelgif/result.hpp"

namespace modelgif {

std::optional<StoredFields> StoredFields::open(const std::string& result, const std::vector<std::string>& models,
                                               std::string* why) {
  std::vector<std::string> names, hashes;
  std::string fingerprint;
  int64_t references = 0;
  auto f = h5::File::open(result);
  names = h5::read_strings(f.id(), "/models/names");
  if (h5::exists(f.id(), "/models/hashes")) hashes = h5::read_strings(f.id(), "/models/hashes");
  if (h5::has_attr(f.id(), "/", "fingerprint")) fingerprint = h5::get_attr_string(f.id(), "/", "fingerprint");
  references = static_cast<int64_t>(h5::dims(f.id(), "/references/indices").at(0));
  const bool in_result =
      std::all_of(models.begin(), models.end(), [&](const auto& m) { return has_fields(result, m); });
  if (in_result) {
    StoredFields s(result, result);
    s.references_ = references;
    return s;
  }
  // The checkpoint of the run that wrote the result.
  const CheckpointStore store(CheckpointStore::dir_for(result));
  std::string lack;
  if (!store.has_manifest()) {
    lack = "and there is no checkpoint " + store.dir();
  } else if (fingerprint.empty() || hashes.size() != names.size()) {
    lack = "and it does not say which checkpoint shards it was made from";
  } else {
    const Manifest man = store.read_manifest();
    StoredFields s(result, "checkpoint " + store.dir());
    s.references_ = references, s.block_ = man.block, s.fingerprint_ = fingerprint;
    s.store_.emplace(store);
    for (const auto& m : models) {
      const size_t i = static_cast<size_t>(std::find(names.begin(), names.end(), m) - names.begin());
      if (i == names.size()) throw_input(result + ": no model '" + m + "'");
      s.ids_.push_back({m, hashes[i]});
    }
    lack = man.fingerprint != fingerprint || man.references != references
               ? "and checkpoint " + store.dir() + " now belongs to another run"
               : "";
    for (const auto& id : s.ids_)
      for (int64_t k = 0; lack.empty() && k < s.blocks(); ++k) {
        const auto [lo, hi] = s.block_range(k);
        if (store.probe(shard_id(fingerprint, id, k, hi - lo), false).kind != ShardStatus::Complete)
          lack = man.fields == CheckpointFields::None
                     ? "and its checkpoint " + store.dir() + " keeps no fields (checkpoint.fields: none)"
                     : "and checkpoint " + store.dir() + " lacks the shard " + store.shard_path(id.name, k) +
                           " of this result";
      }
    if (lack.empty()) return s;
  }
  if (why) *why = result + " stores no fields (output.store_fields: false) " + lack;
  return std::nullopt;
}

at::Tensor StoredFields::read(const std::string& model, int64_t k) const {
  const auto [lo, hi] = block_range(k);
  if (!store_) return read_field_rows(result_, model, lo, hi);
  const auto id = std::find_if(ids_.begin(), ids_.end(), [&](const ModelId& e) { return e.name == model; });
  if (id == ids_.end()) throw_internal("stored fields: model '" + model + "' was not opened");
  return store_->read_shard(shard_id(fingerprint_, *id, k, hi - lo));
}

}  // namespace modelgif
