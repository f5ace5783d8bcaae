// Checkpointed shards: every finished (model, reference block) is its own HDF5
// file (temporary name, fsync, atomic rename) holding its field block, its
// feature moments, a checksum and the fingerprint of everything it depends on.
// Per-block pair sums are cached beside them (run/pair_cache.hpp).
//
// Layout of <output>.ckpt/:
//   MANIFEST.h5                  fingerprint (+ its text), blocks, max_points, models (name -> file hash)
//   fields/<model>/b<k>.h5       /field (rows x S' x D float32), /moments; attrs fingerprint, rows, completed, checksum
//   pairs/<kind>-b<k>.h5         /keys (model name@hash), /sums (7 x K x K float64); kind: plain or standardized
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/hash.hpp"
#include "modelgif/config.hpp"
#include "modelgif/distance.hpp"

namespace modelgif {

// hex64 of fnv1a over a tensor's bytes (the preprocessed references).
std::string hash_tensor(const at::Tensor& t);

// The text that a run's shards depend on: references.*, field.*, run.block,
// and the hash of the preprocessed reference data. One "key: value" per line.
std::string fingerprint_text(const RunConfig& cfg, const std::string& reference_hash);

struct Manifest {
  std::string fingerprint;  // hex of fnv1a(text)
  std::string text;         // fingerprint_text
  int64_t references = 0, block = 0, blocks = 0, steps_kept = 0, features = 0, max_points = 0;
  std::string memory_format = "contiguous";   // tuned with max_points
  std::map<std::string, std::string> models;  // name -> file hash
  std::map<std::string, std::string> paths;   // name -> model file of the latest run
  std::vector<std::string> order;             // zoo order of the latest run
  std::string config;                         // resolved config of the latest run
};

struct ShardStatus {
  enum Kind { Missing, Complete, Partial, Corrupt, Mismatch } kind = Missing;
  int64_t completed = 0;  // leading references with a finished field
  std::string reason;     // for Corrupt / Mismatch
};

class Checkpoint {
 public:
  explicit Checkpoint(std::string dir);
  static std::string dir_for(const std::string& output_path) { return output_path + ".ckpt"; }
  const std::string& dir() const { return dir_; }

  bool has_manifest() const;
  Manifest read_manifest() const;  // throws InputError when unreadable
  void write_manifest(const Manifest& m) const;
  void wipe() const;  // removes everything under dir but the run's lock
  void remove_model(const std::string& name) const;
  // Whether any finished work is stored (for one model, or at all): a
  // checkpoint without any can be replaced without losing anything.
  bool holds_work(const std::string& model = "") const;

  std::string field_path(const std::string& model, int64_t block) const;
  // What a shard holds. `verify`: read its data and check its checksum (a
  // damaged shard is Corrupt); otherwise only its header and sizes are read.
  ShardStatus probe(const std::string& model, int64_t block, const std::string& fingerprint, int64_t rows,
                    bool verify = true) const;
  // field: at least `completed` rows; moments only for complete shards.
  void write_field(const std::string& model, int64_t block, const std::string& fingerprint, const at::Tensor& field,
                   int64_t completed, int64_t rows, const FeatureMoments* moments) const;
  // Reads a complete shard once and checks it: its fingerprint, its rows and
  // its checksum. InputError naming the shard when any of them fails.
  at::Tensor read_checked_field(const std::string& model, int64_t block, const std::string& fingerprint, int64_t rows,
                                FeatureMoments* moments = nullptr) const;
  // Reads the finished rows; fills `moments` when given and stored.
  at::Tensor read_field(const std::string& model, int64_t block, FeatureMoments* moments = nullptr) const;
  // Only the feature moments of a complete shard (cheap: no field data).
  FeatureMoments read_moments(const std::string& model, int64_t block, int64_t features) const;

 private:
  std::string dir_;
};

// A shard's fingerprint: the run's, the model's identity and the block.
std::string shard_fingerprint(const std::string& run_fingerprint, const std::string& model_key, int64_t block);

}  // namespace modelgif
