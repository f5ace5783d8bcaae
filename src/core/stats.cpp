#include "modelgif/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "modelgif/error.hpp"

namespace modelgif {

double roc_auc(const std::vector<double>& pos, const std::vector<double>& neg) {
  if (pos.empty() || neg.empty()) throw_internal("roc_auc: needs positives and negatives");
  double wins = 0;
  for (double p : pos)
    for (double q : neg) wins += p < q ? 1.0 : (p == q ? 0.5 : 0.0);
  return wins / (static_cast<double>(pos.size()) * static_cast<double>(neg.size()));
}

namespace {

// The regularized incomplete beta function I_x(a, b), by its continued
// fraction (modified Lentz), on the side where it converges fast.
double incomplete_beta(double x, double a, double b) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incomplete_beta(1 - x, b, a);
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x)) / a;
  constexpr double kTiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  d = 1 / (std::fabs(d) < kTiny ? kTiny : d);
  double f = d;
  for (int m = 1; m <= 500; ++m) {
    for (const bool odd : {false, true}) {
      const double num = odd ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                             : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
      d = 1 + num * d;
      d = 1 / (std::fabs(d) < kTiny ? kTiny : d);
      c = 1 + num / c;
      if (std::fabs(c) < kTiny) c = kTiny;
      f *= c * d;
      if (odd && std::fabs(c * d - 1) < 1e-15) return front * f;
    }
  }
  return front * f;
}

// The x in [0, 1] with I_x(a, b) = q, by bisection (I_x rises with x).
double incomplete_beta_inverse(double q, double a, double b) {
  double lo = 0, hi = 1;
  for (int i = 0; i < 100; ++i) {
    const double mid = (lo + hi) / 2;
    (incomplete_beta(mid, a, b) < q ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

}  // namespace

double student_t_cdf(double t, double nu) {
  if (!(nu > 0)) throw_internal("student_t_cdf: needs nu > 0");
  if (std::isnan(t)) return t;
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  // P(T <= -|t|); near 0 through P(|T| < |t|) = I_{t^2/(nu+t^2)}(1/2, nu/2),
  // whose argument keeps its digits where nu / (nu + t^2) would round to 1.
  const double t2 = t * t;
  const double tail = t2 < nu ? 0.5 * (1 - incomplete_beta(t2 / (nu + t2), 0.5, nu / 2))
                              : 0.5 * incomplete_beta(nu / (nu + t2), nu / 2, 0.5);
  return t < 0 ? tail : 1 - tail;
}

double student_t_quantile(double p, double nu) {
  if (!(p > 0 && p < 1)) throw_internal("student_t_quantile: needs 0 < p < 1");
  double lo = -1, hi = 1;
  while (student_t_cdf(lo, nu) > p) lo *= 2;
  while (student_t_cdf(hi, nu) < p) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-15 * std::max(1.0, std::fabs(lo)); ++i) {
    const double mid = (lo + hi) / 2;
    (student_t_cdf(mid, nu) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

Interval clopper_pearson(int hits, int trials, double confidence) {
  if (trials < 1 || hits < 0 || hits > trials || !(confidence > 0 && confidence < 1))
    throw_internal("clopper_pearson: needs 0 <= hits <= trials, trials >= 1, 0 < confidence < 1");
  const double tail = (1 - confidence) / 2, k = hits, n = trials;
  // P(Bin(n, lower) >= k) = tail and P(Bin(n, upper) <= k) = tail, through the beta distribution.
  return {hits == 0 ? 0.0 : incomplete_beta_inverse(tail, k, n - k + 1),
          hits == trials ? 1.0 : incomplete_beta_inverse(1 - tail, k + 1, n - k)};
}

double empirical_p_value(double distance, const std::vector<double>& null) {
  const auto closer = std::count_if(null.begin(), null.end(), [&](double x) { return x <= distance; });
  return (1.0 + static_cast<double>(closer)) / (1.0 + static_cast<double>(null.size()));
}

namespace {

// The null distances' mean and sample standard deviation; sd 0 when they
// agree to rounding (within 1e-12 of the mean), where the t statistic would
// be rounding noise divided by rounding noise.
struct NullModel {
  double mean, sd, tolerance;
};
NullModel null_model(const std::vector<double>& null, const char* what) {
  if (null.size() < 2) throw_internal(std::string(what) + ": needs at least 2 null distances");
  const double n = static_cast<double>(null.size());
  const double mean = std::accumulate(null.begin(), null.end(), 0.0) / n;
  double ss = 0;
  for (const double x : null) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / (n - 1)), tolerance = 1e-12 * std::fabs(mean);
  return {mean, sd <= tolerance ? 0.0 : sd, tolerance};
}

}  // namespace

double predictive_p_value(double distance, const std::vector<double>& null) {
  const NullModel m = null_model(null, "predictive_p_value");
  const double n = static_cast<double>(null.size());
  if (m.sd == 0) return distance < m.mean - m.tolerance ? 0.0 : 1.0;
  return student_t_cdf((distance - m.mean) / (m.sd * std::sqrt(1 + 1 / n)), n - 1);
}

double predictive_threshold(double alpha, const std::vector<double>& null) {
  const NullModel m = null_model(null, "predictive_threshold");
  const double n = static_cast<double>(null.size());
  if (m.sd == 0) return std::numeric_limits<double>::quiet_NaN();
  return m.mean + student_t_quantile(alpha, n - 1) * m.sd * std::sqrt(1 + 1 / n);
}

std::vector<double> holm_adjusted(const std::vector<double>& p) {
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> adjusted(p.size());
  double running = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    running = std::max(running, std::min(1.0, static_cast<double>(p.size() - i) * p[order[i]]));
    adjusted[order[i]] = running;
  }
  return adjusted;
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<size_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && x[idx[j + 1]] == x[idx[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) throw_internal("spearman: needs two lists of the same length >= 2");
  const auto rx = average_ranks(x), ry = average_ranks(y);
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n, my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

std::vector<Merge> average_linkage(const std::vector<double>& d, size_t n) {
  if (d.size() != n * n) throw_internal("average_linkage: distance matrix is not n x n");
  // Active clusters: id, size, and the distance row to every other active cluster.
  std::vector<size_t> id(n), size(n, 1);
  std::iota(id.begin(), id.end(), 0);
  std::vector<std::vector<double>> dist(n, std::vector<double>(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) dist[i][j] = d[i * n + j];
  std::vector<bool> alive(n, true);
  std::vector<Merge> merges;
  for (size_t step = 0; step + 1 < n; ++step) {
    size_t bi = 0, bj = 0;
    double best = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < n; ++i)
      for (size_t j = i + 1; j < n; ++j)
        if (alive[i] && alive[j] && dist[i][j] < best) best = dist[i][j], bi = i, bj = j;
    merges.push_back({std::min(id[bi], id[bj]), std::max(id[bi], id[bj]), best, size[bi] + size[bj]});
    // The merged cluster takes slot bi; its distance to k is the size-weighted mean.
    for (size_t k = 0; k < n; ++k) {
      if (!alive[k] || k == bi || k == bj) continue;
      const double v = (dist[bi][k] * static_cast<double>(size[bi]) + dist[bj][k] * static_cast<double>(size[bj])) /
                       static_cast<double>(size[bi] + size[bj]);
      dist[bi][k] = dist[k][bi] = v;
    }
    size[bi] += size[bj];
    id[bi] = n + step;
    alive[bj] = false;
  }
  return merges;
}

std::vector<size_t> leaf_order(const std::vector<Merge>& merges, size_t n) {
  std::vector<size_t> order;
  if (n == 0) return order;
  std::vector<size_t> stack = {merges.empty() ? 0 : n + merges.size() - 1};
  while (!stack.empty()) {
    const size_t c = stack.back();
    stack.pop_back();
    if (c < n) {
      order.push_back(c);
      continue;
    }
    const Merge& m = merges[c - n];
    stack.push_back(m.b);
    stack.push_back(m.a);
  }
  return order;
}

}  // namespace modelgif
