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
  try {
    auto f = h5::File::open(result);
    names = h5::read_strings(f.id(), "/models/names");
    if (h5::exists(f.id(), "/models/hashes")) hashes = h5::read_strings(f.id(), "/models/hashes");
    if (h5::has_attr(f.id(), "/", "fingerprint")) fingerprint = h5::get_attr_string(f.id(), "/", "fingerprint");
    references = static_cast<int64_t>(h5::dims(f.id(), "/references/indices").at(0));
  } catch (const StoreError& e) {
    throw InputError(result + ": cannot read result file: " + e.what());
  }
  const bool in_result =
      std::all_of(models.begin(), models.end(), [&](const auto& m) { return has_fields(result, m); });
  if (in_result) {
    StoredFields s(result, result);
    s.references_ = references;
    return s;
  }
  // The checkpoint of the run that wrote the result.
  const Checkpoint ckpt(Checkpoint::dir_for(result));
  std::string lack;
  if (!ckpt.has_manifest()) {
    lack = "and there is no checkpoint " + ckpt.dir();
  } else if (fingerprint.empty() || hashes.size() != names.size()) {
    lack = "and it does not say which checkpoint shards it was made from";
  } else {
    const Manifest man = ckpt.read_manifest();
    StoredFields s(result, "checkpoint " + ckpt.dir());
    s.references_ = references, s.block_ = man.block, s.fingerprint_ = fingerprint;
    s.ckpt_.emplace(ckpt);
    for (const auto& m : models) {
      const size_t i = static_cast<size_t>(std::find(names.begin(), names.end(), m) - names.begin());
      if (i == names.size()) throw_input(result + ": no model '" + m + "'");
      s.keys_.emplace_back(m, m + "@" + hashes[i]);
    }
    lack = man.fingerprint != fingerprint || man.references != references
               ? "and checkpoint " + ckpt.dir() + " now belongs to another run"
               : "";
    for (const auto& [m, key] : s.keys_)
      for (int64_t k = 0; lack.empty() && k < s.blocks(); ++k) {
        const auto [lo, hi] = s.block_range(k);
        const ShardStatus st = ckpt.probe(m, k, shard_fingerprint(fingerprint, key, k), hi - lo, false);
        if (st.kind != ShardStatus::Complete)
          lack = "and checkpoint " + ckpt.dir() + " lacks the shard " + ckpt.field_path(m, k) + " of this result";
      }
    if (lack.empty()) return s;
  }
  if (why) *why = result + " stores no fields (output.store_fields: false) " + lack;
  return std::nullopt;
}

at::Tensor StoredFields::read(const std::string& model, int64_t k) const {
  const auto [lo, hi] = block_range(k);
  if (!ckpt_) return read_field_rows(result_, model, lo, hi);
  const auto key = std::find_if(keys_.begin(), keys_.end(), [&](const auto& e) { return e.first == model; });
  if (key == keys_.end()) throw_internal("stored fields: model '" + model + "' was not opened");
  return ckpt_->read_checked_field(model, k, shard_fingerprint(fingerprint_, key->second, k), hi - lo);
}

}  // namespace modelgif
