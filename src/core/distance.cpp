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
  // Rows (reference, step) in chunks whose float64 stack of the models stays
  // near 2 M elements (16 MB: within a CPU's last-level cache, which made
  // the conversion and the products about twice as fast as 32 M did), whole
  // references at a time when they fit; each reference's rows are gathered
  // for its largest step (the Frechet forms).
  const int64_t stacked = same ? ma : ma + mb;
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 21) / std::max<int64_t>(1, stacked * d));
  const int64_t group = std::max<int64_t>(1, chunk / s);  // references per pass
  const auto dopt = a[0].options().dtype(at::kDouble);
  // The sums stay on the fields' device until the end: only Ma x Mb values leave it.
  at::Tensor cos_sum = at::zeros({ma, mb}, dopt), euc_sum = at::zeros({ma, mb}, dopt),
             cos_fre = at::zeros({ma, mb}, dopt), euc_fre = at::zeros({ma, mb}, dopt),
             zero_rows = at::zeros({ma, mb}, dopt);
  // The models' rows [r0, r1) side by side in float64, converted as they are copied in (one pass).
  const auto stack = [&](const std::vector<at::Tensor>& fs, int64_t lo, int64_t hi, int64_t r0, int64_t r1) {
    at::Tensor out = at::empty({r1 - r0, static_cast<int64_t>(fs.size()), d}, dopt);
    for (size_t i = 0; i < fs.size(); ++i)
      out.select(1, static_cast<int64_t>(i)).copy_(fs[i].slice(0, lo, hi).reshape({(hi - lo) * s, d}).slice(0, r0, r1));
    return out;
  };
  for (int64_t lo = 0; lo < n; lo += group) {
    const int64_t hi = std::min(n, lo + group), rows = (hi - lo) * s;
    std::vector<at::Tensor> dcos_parts, deuc_parts;
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const int64_t r1 = std::min(rows, r0 + chunk);
      // Within one set of models: one stack, one product of it with itself,
      // whose diagonal holds the squared norms.
      const at::Tensor A = stack(a, lo, hi, r0, r1), B = same ? A : stack(b, lo, hi, r0, r1);
      const at::Tensor G = at::matmul(A, B.transpose(1, 2));  // rows x Ma x Mb
      const at::Tensor na = same ? G.diagonal(0, 1, 2) : A.pow(2).sum(-1);
      const at::Tensor nb = same ? na : B.pow(2).sum(-1);  // rows x M
      const at::Tensor nn = (na.unsqueeze(2) * nb.unsqueeze(1)).sqrt();
      const at::Tensor zero = na.eq(0).unsqueeze(2) | nb.eq(0).unsqueeze(1);
      const at::Tensor cos = at::where(zero, at::zeros_like(G), G / nn.clamp_min(1e-300));
      dcos_parts.push_back(1.0 - cos);
      deuc_parts.push_back((na.unsqueeze(2) + nb.unsqueeze(1) - 2.0 * G).clamp_min(0).sqrt());
      zero_rows += zero.expand({r1 - r0, ma, mb}).sum(0).to(at::kDouble);
    }
    const at::Tensor dcos = at::cat(dcos_parts).view({hi - lo, s, ma, mb});
    const at::Tensor deuc = at::cat(deuc_parts).view({hi - lo, s, ma, mb});
    cos_sum += dcos.sum(at::IntArrayRef{0, 1}), euc_sum += deuc.sum(at::IntArrayRef{0, 1});
    cos_fre += std::get<0>(dcos.max(1)).sum(0), euc_fre += std::get<0>(deuc.max(1)).sum(0);
  }
  const auto host = [](const at::Tensor& t) {
    const at::Tensor c = t.cpu().contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  };
  const std::vector<double> cs = host(cos_sum), es = host(euc_sum), cf = host(cos_fre), ef = host(euc_fre),
                            zr = host(zero_rows);
  for (int64_t i = 0; i < ma; ++i)
    for (int64_t j = 0; j < mb; ++j) {
      if (!want[static_cast<size_t>(i)][static_cast<size_t>(j)]) continue;
      const size_t k = static_cast<size_t>(i * mb + j);
      const double v[kSums] = {cs[k], es[k], cf[k], ef[k], static_cast<double>(n * s), static_cast<double>(n), zr[k]};
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
  const at::Tensor s = f.sum(0).cpu().contiguous(), q = f.pow(2).sum(0).cpu().contiguous();
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
  const auto all = at::tensor(sums_, at::kDouble).to(field.device());
  const at::Tensor mean = all.slice(0, 1, 1 + D) / n;
  // Sample variance from the sums; clamp the rounding error below zero.
  const at::Tensor var = ((all.slice(0, 1 + D, 1 + 2 * D) - n * mean * mean) / std::max(n - 1.0, 1.0)).clamp_min(0);
  const at::Tensor sd = var.sqrt();
  const at::Tensor inv = at::where(sd.gt(0), 1.0 / sd, at::zeros_like(sd));
  return (field.to(at::kDouble) - mean) * inv;
}

}  // namespace modelgif
