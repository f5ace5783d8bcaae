#include "modelgif/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "modelgif/error.hpp"

namespace modelgif {

double roc_auc(const std::vector<double>& pos, const std::vector<double>& neg) {
  if (pos.empty() || neg.empty()) throw_internal("roc_auc: needs positives and negatives");
  double wins = 0;
  for (double p : pos)
    for (double q : neg) wins += p < q ? 1.0 : (p == q ? 0.5 : 0.0);
  return wins / (static_cast<double>(pos.size()) * static_cast<double>(neg.size()));
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
