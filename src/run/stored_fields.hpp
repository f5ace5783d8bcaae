// The fields a result was computed from, block by block: from the result file
// when it stores them (output.store_fields: true), else from the checkpoint of
// the run that wrote it (RESULT.ckpt), when that checkpoint still holds every
// shard of those models for that run (the result's fingerprint and model file
// hashes), each shard checked against its checksum as it is read.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "run/store.hpp"

namespace modelgif {

class StoredFields {
 public:
  // The fields of `models` of result `result`; std::nullopt when neither the
  // result nor its checkpoint has them, with `why` saying what each lacks.
  static std::optional<StoredFields> open(const std::string& result, const std::vector<std::string>& models,
                                          std::string* why);
  int64_t references() const { return references_; }
  int64_t blocks() const { return (references_ + block_ - 1) / block_; }
  std::pair<int64_t, int64_t> block_range(int64_t k) const {
    return {k * block_, std::min(references_, (k + 1) * block_)};
  }
  // Block k of one model's field: rows x S' x D, float32.
  at::Tensor read(const std::string& model, int64_t k) const;
  // Where they come from, for the log: "RESULT" or "checkpoint RESULT.ckpt".
  const std::string& source() const { return source_; }

 private:
  StoredFields(std::string result, std::string source) : result_(std::move(result)), source_(std::move(source)) {}
  std::string result_, source_;
  int64_t references_ = 0, block_ = 64;
  std::optional<CheckpointStore> store_;  // set when reading from the checkpoint
  std::string fingerprint_;               // the run's
  std::vector<ModelId> ids_;              // of the models opened
};

}  // namespace modelgif
