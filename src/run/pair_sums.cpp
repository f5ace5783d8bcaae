#include "run/pair_sums.hpp"

#include <algorithm>

#include "base/hash.hpp"
#include "modelgif/error.hpp"

namespace modelgif {

ShardId shard_id(const std::string& run, const ModelId& model, int64_t block, int64_t rows) {
  const std::string text = run + "|" + model.key() + "|" + std::to_string(block);
  return {model, block, rows, hex64(fnv1a(text.data(), text.size()))};
}

PairSums::PairSums(std::vector<ModelId> models)
    : models_(std::move(models)), sums_(static_cast<size_t>(kSums) * models_.size() * models_.size(), 0.0) {}

PairSums::PairSums(std::vector<ModelId> models, std::vector<double> sums)
    : models_(std::move(models)), sums_(std::move(sums)) {
  if (sums_.size() != static_cast<size_t>(kSums) * models_.size() * models_.size())
    throw_internal("pair sums: " + std::to_string(sums_.size()) + " sums for " + std::to_string(models_.size()) +
                   " models");
}

std::optional<size_t> PairSums::find(const ModelId& m) const {
  const auto it = std::find(models_.begin(), models_.end(), m);
  if (it == models_.end()) return std::nullopt;
  return static_cast<size_t>(it - models_.begin());
}

bool PairSums::covers(const ModelId& a, const ModelId& b) const {
  const auto ia = find(a), ib = find(b);
  return ia && ib && sum(DistanceAccumulator::kRows, *ia, *ib) > 0;
}

bool PairSums::covers_all(const std::vector<ModelId>& zoo) const {
  for (size_t a = 0; a < zoo.size(); ++a)
    for (size_t b = a + 1; b < zoo.size(); ++b)
      if (!covers(zoo[a], zoo[b])) return false;
  return true;
}

PairSums PairSums::extended(const std::vector<ModelId>& zoo) const {
  std::vector<ModelId> models = models_;
  for (const auto& m : zoo)
    if (!find(m)) models.push_back(m);
  PairSums out(models);
  const size_t K = models.size(), K0 = models_.size();
  for (int w = 0; w < kSums; ++w)
    for (size_t a = 0; a < K0; ++a)
      for (size_t b = 0; b < K0; ++b) out.sums_[(w * K + a) * K + b] = sum(w, a, b);
  return out;
}

void PairSums::take(const DistanceAccumulator& acc, const std::vector<ModelId>& zoo, int64_t a, int64_t b) {
  const auto ia = find(zoo[static_cast<size_t>(a)]), ib = find(zoo[static_cast<size_t>(b)]);
  if (!ia || !ib) throw_internal("pair sums: a model of the zoo is missing from the block's sums");
  const size_t K = models_.size();
  const int64_t M = acc.models();
  for (int w = 0; w < kSums; ++w) {
    sums_[(w * K + *ia) * K + *ib] = acc.raw()[static_cast<size_t>((w * M + a) * M + b)];
    sums_[(w * K + *ib) * K + *ia] = acc.raw()[static_cast<size_t>((w * M + b) * M + a)];
  }
}

std::string PairSums::add_to(DistanceAccumulator& acc, const std::vector<ModelId>& zoo) const {
  const int64_t M = acc.models();
  std::vector<std::optional<size_t>> index;
  for (const auto& m : zoo) index.push_back(find(m));
  for (int64_t a = 0; a < M; ++a)
    for (int64_t b = 0; b < M; ++b) {
      if (a == b) continue;
      const auto ia = index[static_cast<size_t>(a)], ib = index[static_cast<size_t>(b)];
      if (!ia || !ib || !(sum(DistanceAccumulator::kRows, *ia, *ib) > 0))
        return zoo[static_cast<size_t>(a)].key() + " / " + zoo[static_cast<size_t>(b)].key();
      for (int w = 0; w < kSums; ++w) acc.raw()[static_cast<size_t>((w * M + a) * M + b)] += sum(w, *ia, *ib);
    }
  return "";
}

}  // namespace modelgif
