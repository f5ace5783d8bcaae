#include "modelgif/distance.hpp"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "modelgif/error.hpp"

namespace modelgif {
namespace {
enum Sum { kCos, kEuc, kCosFre, kEucFre, kRows, kRefs, kZero };
const char* const kMetricNames[] = {"cosine", "euclidean", "cosine_frechet", "euclidean_frechet",
                                    "cosine_standardized"};
}  // namespace

Metric parse_metric(const std::string& name) {
  for (int i = 0; i < 5; ++i)
    if (name == kMetricNames[i]) return static_cast<Metric>(i);
  throw_usage("unknown distance metric '" + name +
              "' (expected cosine, euclidean, cosine_frechet, euclidean_frechet or cosine_standardized)");
}

std::string to_string(Metric m) { return kMetricNames[static_cast<int>(m)]; }

std::vector<Metric> all_metrics() {
  return {Metric::Cosine, Metric::Euclidean, Metric::CosineFrechet, Metric::EuclideanFrechet,
          Metric::CosineStandardized};
}

at::Tensor cosine_distance_rows(const at::Tensor& fa_in, const at::Tensor& fb_in, at::Tensor* zero_out) {
  const at::Tensor fa = fa_in.to(at::kDouble), fb = fb_in.to(at::kDouble);
  const at::Tensor na = fa.norm(2, -1), nb = fb.norm(2, -1);
  const at::Tensor zero = na.eq(0) | nb.eq(0);
  if (zero_out) *zero_out = zero;
  return 1.0 - at::where(zero, at::zeros_like(na), (fa * fb).sum(-1) / (na * nb).clamp_min(1e-300));
}

at::Tensor per_reference_distance(Metric metric, const at::Tensor& fa, const at::Tensor& fb) {
  const bool cosine =
      metric == Metric::Cosine || metric == Metric::CosineFrechet || metric == Metric::CosineStandardized;
  const at::Tensor rows =
      cosine ? cosine_distance_rows(fa, fb) : (fa.to(at::kDouble) - fb.to(at::kDouble)).norm(2, -1);  // n x S'
  const bool frechet = metric == Metric::CosineFrechet || metric == Metric::EuclideanFrechet;
  return frechet ? std::get<0>(rows.max(1)) : rows.mean(1);
}

DistanceAccumulator::DistanceAccumulator(int64_t models)
    : models_(models), sums_(static_cast<size_t>(kSums * models * models), 0.0) {}

void DistanceAccumulator::add_pair(int64_t a, int64_t b, const at::Tensor& fa_in, const at::Tensor& fb_in) {
  if (fa_in.sizes() != fb_in.sizes() || fa_in.dim() != 3)
    throw_internal("distance: fields of models " + std::to_string(a) + " and " + std::to_string(b) +
                   " have different shapes (" + std::to_string(fa_in.dim()) + "-d " + std::to_string(fa_in.numel()) +
                   " values vs " + std::to_string(fb_in.dim()) + "-d " + std::to_string(fb_in.numel()) + ")");
  const int64_t n = fa_in.size(0), s = fa_in.size(1), d = fa_in.size(2);
  if (n == 0) return;
  // In slices of references, so that the float64 temporaries stay small
  // (about 4 M elements) whatever the block size.
  const int64_t step = std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(1, s * d));
  double v[kSums] = {0, 0, 0, 0, static_cast<double>(n * s), static_cast<double>(n), 0};
  for (int64_t lo = 0; lo < n; lo += step) {
    const int64_t hi = std::min(n, lo + step);
    const at::Tensor fa = fa_in.slice(0, lo, hi).to(at::kDouble), fb = fb_in.slice(0, lo, hi).to(at::kDouble);
    at::Tensor zero;
    const at::Tensor dcos = cosine_distance_rows(fa, fb, &zero);  // rows x S'
    const at::Tensor deuc = (fa - fb).norm(2, -1);
    v[kCos] += dcos.sum().item<double>();
    v[kEuc] += deuc.sum().item<double>();
    v[kCosFre] += std::get<0>(dcos.max(1)).sum().item<double>();
    v[kEucFre] += std::get<0>(deuc.max(1)).sum().item<double>();
    v[kZero] += zero.sum().item<double>();
  }
  for (int w = 0; w < kSums; ++w) {
    at(w, a, b) += v[w];
    if (a != b) at(w, b, a) += v[w];
  }
}

void DistanceAccumulator::add_pairs(const std::vector<int64_t>& ids_a, const std::vector<at::Tensor>& a,
                                    const std::vector<int64_t>& ids_b, const std::vector<at::Tensor>& b,
                                    const std::vector<std::vector<bool>>& want) {
  accumulate(ids_a, a, ids_b, b, want, false);
}

void DistanceAccumulator::add_pairs_within(const std::vector<int64_t>& ids, const std::vector<at::Tensor>& fields,
                                           const std::vector<std::vector<bool>>& want) {
  accumulate(ids, fields, ids, fields, want, true);
}

void DistanceAccumulator::accumulate(const std::vector<int64_t>& ids_a, const std::vector<at::Tensor>& a,
                                     const std::vector<int64_t>& ids_b, const std::vector<at::Tensor>& b,
                                     const std::vector<std::vector<bool>>& want, bool same) {
  if (a.empty() || b.empty()) return;
  const int64_t n = a[0].size(0), s = a[0].size(1), d = a[0].size(2);
  for (const auto* set : {&a, &b})
    for (const auto& f : *set)
      if (f.dim() != 3 || f.size(0) != n || f.size(1) != s || f.size(2) != d)
        throw_internal("distance: fields of one block have different shapes");
  if (n == 0) return;
  const int64_t ma = static_cast<int64_t>(a.size()), mb = static_cast<int64_t>(b.size());
  std::vector<double> cos_sum(static_cast<size_t>(ma * mb)), euc_sum(cos_sum.size()), cos_fre(cos_sum.size()),
      euc_fre(cos_sum.size()), zero_rows(cos_sum.size());
  // References in slices so that the float64 stacks stay near 32 M elements.
  const int64_t stacked = same ? ma : ma + mb;
  const int64_t step = std::max<int64_t>(1, (int64_t{1} << 25) / std::max<int64_t>(1, stacked * s * d));
  for (int64_t lo = 0; lo < n; lo += step) {
    const int64_t hi = std::min(n, lo + step), rows = (hi - lo) * s;
    auto stack = [&](const std::vector<at::Tensor>& fs) {  // rows x M x D
      std::vector<at::Tensor> parts;
      for (const auto& f : fs) parts.push_back(f.slice(0, lo, hi).reshape({rows, d}).to(at::kDouble));
      return at::stack(parts, 1);
    };
    // Within one set of models: one stack, one product of it with itself.
    const at::Tensor A = stack(a), B = same ? A : stack(b);
    const at::Tensor G = at::bmm(A, B.transpose(1, 2));                         // rows x Ma x Mb
    const at::Tensor na = A.pow(2).sum(-1), nb = same ? na : B.pow(2).sum(-1);  // rows x M
    const at::Tensor nn = (na.unsqueeze(2) * nb.unsqueeze(1)).sqrt();
    const at::Tensor zero = na.eq(0).unsqueeze(2) | nb.eq(0).unsqueeze(1);
    const at::Tensor cos = at::where(zero, at::zeros_like(G), G / nn.clamp_min(1e-300));
    const at::Tensor dcos = (1.0 - cos).view({hi - lo, s, ma, mb});
    const at::Tensor deuc =
        (na.unsqueeze(2) + nb.unsqueeze(1) - 2.0 * G).clamp_min(0).sqrt().view({hi - lo, s, ma, mb});
    const at::Tensor c1 = dcos.sum(at::IntArrayRef{0, 1}).contiguous(),
                     e1 = deuc.sum(at::IntArrayRef{0, 1}).contiguous();
    const at::Tensor c2 = std::get<0>(dcos.max(1)).sum(0).contiguous(),
                     e2 = std::get<0>(deuc.max(1)).sum(0).contiguous();
    const at::Tensor z = zero.expand({rows, ma, mb}).sum(0).to(at::kDouble).contiguous();
    for (size_t k = 0; k < cos_sum.size(); ++k) {
      cos_sum[k] += c1.data_ptr<double>()[k], euc_sum[k] += e1.data_ptr<double>()[k];
      cos_fre[k] += c2.data_ptr<double>()[k], euc_fre[k] += e2.data_ptr<double>()[k];
      zero_rows[k] += z.data_ptr<double>()[k];
    }
  }
  for (int64_t i = 0; i < ma; ++i)
    for (int64_t j = 0; j < mb; ++j) {
      if (!want[static_cast<size_t>(i)][static_cast<size_t>(j)]) continue;
      const size_t k = static_cast<size_t>(i * mb + j);
      const double v[kSums] = {
          cos_sum[k],  euc_sum[k], cos_fre[k], euc_fre[k], static_cast<double>(n * s), static_cast<double>(n),
          zero_rows[k]};
      const int64_t x = ids_a[static_cast<size_t>(i)], y = ids_b[static_cast<size_t>(j)];
      for (int w = 0; w < kSums; ++w) {
        at(w, x, y) += v[w];
        if (x != y) at(w, y, x) += v[w];
      }
    }
}

void DistanceAccumulator::merge(const DistanceAccumulator& other) {
  if (other.models_ != models_) throw_internal("distance: merging accumulators of different zoo sizes");
  for (size_t i = 0; i < sums_.size(); ++i) sums_[i] += other.sums_[i];
}

std::vector<double> DistanceAccumulator::matrix(Metric metric) const {
  int which = kCos;
  int count = kRows;
  switch (metric) {
    case Metric::Cosine:
    case Metric::CosineStandardized:
      which = kCos;
      count = kRows;
      break;
    case Metric::Euclidean:
      which = kEuc;
      count = kRows;
      break;
    case Metric::CosineFrechet:
      which = kCosFre;
      count = kRefs;
      break;
    case Metric::EuclideanFrechet:
      which = kEucFre;
      count = kRefs;
      break;
  }
  std::vector<double> m(static_cast<size_t>(models_ * models_));
  for (int64_t a = 0; a < models_; ++a)
    for (int64_t b = 0; b < models_; ++b) {
      const double c = get(count, a, b);
      m[static_cast<size_t>(a * models_ + b)] =
          a == b ? 0.0 : (c > 0 ? get(which, a, b) / c : std::numeric_limits<double>::quiet_NaN());
    }
  return m;
}

std::vector<int64_t> DistanceAccumulator::zero_norm_rows() const {
  std::vector<int64_t> z(static_cast<size_t>(models_ * models_));
  for (int64_t a = 0; a < models_; ++a)
    for (int64_t b = 0; b < models_; ++b) z[static_cast<size_t>(a * models_ + b)] = std::llround(get(kZero, a, b));
  return z;
}

FeatureMoments::FeatureMoments(int64_t features) : sums_(static_cast<size_t>(1 + 2 * features), 0.0) {}

void FeatureMoments::add(const at::Tensor& field) {
  const int64_t D = field.size(-1);
  if (static_cast<size_t>(1 + 2 * D) != sums_.size()) throw_internal("distance: feature count changed between blocks");
  const at::Tensor f = field.to(at::kDouble).reshape({-1, D});
  sums_[0] += static_cast<double>(f.size(0));
  const at::Tensor s = f.sum(0).contiguous(), q = f.pow(2).sum(0).contiguous();
  const double* ps = s.data_ptr<double>();
  const double* pq = q.data_ptr<double>();
  for (int64_t d = 0; d < D; ++d) {
    sums_[static_cast<size_t>(1 + d)] += ps[d];
    sums_[static_cast<size_t>(1 + D + d)] += pq[d];
  }
}

at::Tensor FeatureMoments::standardize(const at::Tensor& field) const {
  const int64_t D = static_cast<int64_t>(sums_.size() - 1) / 2;
  const double n = sums_[0];
  const auto all = at::tensor(sums_, at::kDouble);
  const at::Tensor mean = all.slice(0, 1, 1 + D) / n;
  // Sample variance from the sums; clamp the rounding error below zero.
  const at::Tensor var = ((all.slice(0, 1 + D, 1 + 2 * D) - n * mean * mean) / std::max(n - 1.0, 1.0)).clamp_min(0);
  const at::Tensor sd = var.sqrt();
  const at::Tensor inv = at::where(sd.gt(0), 1.0 / sd, at::zeros_like(sd));
  return (field.to(at::kDouble) - mean) * inv;
}

}  // namespace modelgif
