// The one owner of a run's checkpoint folder, OUTPUT.ckpt/: the code that
// writes each kind of file is the code that finds, checks, lists and removes
// it. Every file is written under a temporary name, fsynced and renamed
// (base/files.hpp), and carries a CRC-32 and the fingerprint it belongs to,
// both checked before it is trusted.
//
//   MANIFEST.h5                the run: format, fingerprint (+ its text), blocks, tuning, models, latest config
//   fields/<model>/bNNNNNN.h5  a (model, block) shard: /field (rows x S' x D float32), /moments;
//                              attrs fingerprint, rows, completed, checksum (checkpoint.fields: keep)
//   moments/<model>/bNNNNNN.h5 a piece's feature moments alone (checkpoint.fields: none, cosine_standardized)
//   pairs/<kind>-bK.h5         a block's pair sums: /keys (name@hash), /sums (kSums x K x K float64)
//   LOCK                       the run lock (run/lock.hpp)
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/MemoryFormat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "modelgif/config.hpp"
#include "modelgif/distance.hpp"
#include "run/ids.hpp"
#include "run/lock.hpp"
#include "run/pair_sums.hpp"

namespace modelgif {

// The checkpoint format this modelgif reads and writes; a checkpoint of
// another is refused with one line (rerun with --recompute).
constexpr int64_t kCheckpointFormat = 3;

// How the run evaluates its models, decided once (configured or timed) and
// kept, so that a resumed run computes its pieces as before.
struct Tuned {
  int64_t max_points = 0;
  at::MemoryFormat format = at::MemoryFormat::Contiguous;
};

struct ModelRecord {
  ModelId id;
  std::string path;  // its file in the latest run
};

struct Manifest {
  std::string fingerprint;  // hex of fnv1a(text)
  std::string text;         // fingerprint_text
  std::string config;       // resolved config of the latest run
  int64_t references = 0, block = 0, blocks = 0, steps_kept = 0, features = 0;
  Tuned tuning;
  CheckpointFields fields = CheckpointFields::Keep;  // of the latest run
  std::vector<ModelRecord> models;                   // every model with work here
  std::vector<std::string> order;                    // zoo order of the latest run
  const ModelRecord* find(const std::string& name) const;
};

struct ShardStatus {
  enum Kind { Missing, Complete, Partial, Corrupt, Mismatch } kind = Missing;
  int64_t completed = 0;  // leading references with a finished field
  std::string reason;     // for Corrupt / Mismatch
};

class CheckpointStore {
 public:
  explicit CheckpointStore(std::string dir);
  static std::string dir_for(const std::string& output_path) { return output_path + ".ckpt"; }
  const std::string& dir() const { return dir_; }

  // The run's lock on this folder (created when missing); InputError naming
  // the holder when another run holds it.
  RunLock lock() const { return RunLock::take(dir_); }

  bool has_manifest() const;
  Manifest read_manifest() const;  // InputError when unreadable, damaged or of another format
  void write_manifest(const Manifest& m) const;
  void wipe() const;                                 // everything but the lock
  void remove_model(const std::string& name) const;  // its shards and moments
  // Whether any finished work is stored (for one model, or at all).
  bool holds_work(const std::string& model = "") const;

  // Field shards.
  std::string shard_path(const std::string& model, int64_t block) const;
  // What a shard holds. `verify`: read its data and check its checksum;
  // otherwise its header and sizes only.
  ShardStatus probe(const ShardId& s, bool verify) const;
  // `field` holds at least `completed` rows; moments only for complete shards.
  void write_shard(const ShardId& s, const at::Tensor& field, int64_t completed, const FeatureMoments* moments) const;
  // A complete shard, read once and checked (fingerprint, rows, checksum):
  // InputError naming it otherwise. Fills `moments` when given.
  at::Tensor read_shard(const ShardId& s, FeatureMoments* moments = nullptr) const;
  // A complete shard's largest magnitude, from its header.
  double shard_peak(const ShardId& s) const;
  // The finished rows of a partial shard (probed Partial just before).
  at::Tensor read_partial(const ShardId& s) const;
  // Removes every field shard (checkpoint.fields: none, once the result no longer needs them).
  void remove_shards() const;

  // A piece's feature moments: from its shard (when `from_shard`), or its moments file.
  std::optional<FeatureMoments> read_moments(const ShardId& s, int64_t features, bool from_shard = true) const;
  void write_moments(const ShardId& s, const FeatureMoments& moments) const;

  // A block's pair sums; std::nullopt when missing or unusable, and then
  // `problem` says why an existing file is not used ("" for a missing one).
  std::string sums_path(SumKind kind, int64_t block) const;
  std::optional<PairSums> read_sums(SumKind kind, int64_t block, const std::string& fingerprint,
                                    std::string* problem = nullptr) const;
  void write_sums(SumKind kind, int64_t block, const PairSums& sums, const std::string& fingerprint) const;

  // Files of each kind, by name alone (no file is opened): for progress lines
  // and for a checkpoint that lost its manifest. `since`: only files changed
  // at or after it (seconds since the epoch; 0: all).
  struct Counts {
    int64_t shards = 0, moments = 0, sums = 0;
  };
  Counts count_files(double since = 0) const;

  // Field shards read so far by this process (a run's log says how many it read).
  static int64_t shards_read();

 private:
  std::string dir_;
};

// The text that a run's shards depend on: references.*, field.*, run.block,
// run.precision, and the hash of the preprocessed reference data. One
// "key: value" per line.
std::string fingerprint_text(const RunConfig& cfg, const std::string& reference_hash);
// hex64 of fnv1a over a tensor's bytes (the preprocessed references).
std::string tensor_digest(const at::Tensor& t);

}  // namespace modelgif
