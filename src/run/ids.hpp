// The identities the checkpoint keys its files by, as values: a model (its zoo
// name and the hash of its file), a (model, block) shard, a kind of pair sums.
// Their text forms ("name@hash", "plain") exist only where a file stores them.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>

namespace modelgif {

struct ModelId {
  std::string name;  // zoo name
  std::string hash;  // hex64 of the model file
  std::string key() const { return name + "@" + hash; }
  bool operator==(const ModelId& o) const { return name == o.name && hash == o.hash; }
  bool operator!=(const ModelId& o) const { return !(*this == o); }
  bool operator<(const ModelId& o) const { return std::tie(name, hash) < std::tie(o.name, o.hash); }
};

// Pair sums of the fields as computed (plain), or of the fields standardized
// feature-wise (for cosine_standardized).
enum class SumKind { Plain, Standardized };
inline const char* to_string(SumKind k) { return k == SumKind::Plain ? "plain" : "standardized"; }

// One (model, reference block) piece of a run: what its shard is checked against.
struct ShardId {
  ModelId model;
  int64_t block = 0;
  int64_t rows = 0;         // references in the block
  std::string fingerprint;  // the run's, the model's identity and the block, hashed
};
// The shard of `model`'s block k (of `rows` references) in the run of fingerprint `run`.
ShardId shard_id(const std::string& run, const ModelId& model, int64_t block, int64_t rows);

}  // namespace modelgif
