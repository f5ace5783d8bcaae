#include "analysis/compare.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "core/shape.hpp"
#include "modelgif/result.hpp"

namespace modelgif {
namespace {

std::string list(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return "[" + s + "]";
}

MetricComparison compare_matrix(const std::string& metric, const std::vector<std::string>& names,
                                const std::vector<double>& x, const std::vector<double>& y, const Tolerance& tol) {
  MetricComparison c;
  c.metric = metric;
  for (const double v : y) c.scale = std::max(c.scale, std::fabs(v));
  c.atol = tol.atol ? *tol.atol : tol.rtol * c.scale;
  const size_t M = names.size();
  double worst = -1;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = std::fabs(x[i] - y[i]), allowed = c.atol + tol.rtol * std::fabs(y[i]);
    c.largest_abs = std::max(c.largest_abs, d);
    c.largest_rel = std::max(c.largest_rel, d / std::max(1e-300, std::max(std::fabs(x[i]), std::fabs(y[i]))));
    // NaN on either side is a difference (allclose's equal_nan=False).
    const double share = std::isnan(d) ? INFINITY : d == 0 ? 0.0 : d / std::max(allowed, 1e-300);
    if (share > worst) {
      worst = share, c.share = share, c.a = x[i], c.b = y[i];
      c.model_a = names[i / M], c.model_b = names[i % M];
    }
  }
  c.same = !(c.share > 1.0);
  return c;
}

}  // namespace

Comparison compare_results(const std::string& fa, const std::string& fb, const Tolerance& tol) {
  const RunResult a = read_result(fa), b = read_result(fb);
  Comparison out;
  if (a.names != b.names || a.metrics != b.metrics) {
    const bool models = a.names != b.names;
    out.mismatch = std::string(models ? "models" : "metrics") + ": " + fa + " holds " +
                   list(models ? a.names : a.metrics) + ", " + fb + " holds " + list(models ? b.names : b.metrics);
    out.same = false;
    return out;
  }
  for (size_t i = 0; i < a.metrics.size(); ++i) {
    out.metrics.push_back(compare_matrix(a.metrics[i], a.names, a.matrices[i], b.matrices[i], tol));
    out.same = out.same && out.metrics.back().same;
  }
  for (const auto& name : a.names) {
    if (!has_fields(fa, name) || !has_fields(fb, name)) continue;  // not stored in both
    const at::Tensor x = read_fields(fa, name), y = read_fields(fb, name);
    FieldComparison f;
    f.model = name;
    if (x.sizes() != y.sizes()) {
      f.shapes = shape_str(x.sizes()) + " and " + shape_str(y.sizes());
      f.same = false;
    } else if (x.numel() > 0) {
      const double scale = std::max(1e-30, y.abs().max().item<double>());
      const at::Tensor per_ref = (x - y).abs().reshape({x.size(0), -1}).amax(1).to(at::kDouble) / scale;
      f.largest = per_ref.max().item<double>();
      f.references = per_ref.numel();
      f.beyond = per_ref.gt(tol.rtol).sum().item<int64_t>();
      f.median = std::get<0>(per_ref.sort()).select(0, (f.references - 1) / 2).item<double>();
      f.same = f.largest <= tol.rtol;
    }
    out.fields.push_back(f);
    out.same = out.same && (f.same || !tol.judge_fields);
  }
  return out;
}

std::string format_comparison(const Comparison& c, const Tolerance& tol) {
  std::ostringstream s;
  s << std::setprecision(3);
  if (!c.mismatch.empty()) return "DIFFERENT " + c.mismatch + "\n";
  for (const auto& m : c.metrics) {
    s << m.metric << ": largest difference " << m.largest_abs << " (relative " << m.largest_rel << "); closest call ("
      << m.model_a << ", " << m.model_b << "): " << std::setprecision(10) << m.a << " vs " << m.b
      << std::setprecision(3) << ", ";
    if (m.atol == 0 && tol.rtol == 0)  // nothing allowed: any difference is beyond it
      s << "beyond the allowed " << m.atol << " + " << tol.rtol << " x |b|";
    else
      s << m.share << " of the allowed " << m.atol << " + " << tol.rtol << " x |b|";
    if (!tol.atol) s << " (atol: " << tol.rtol << " x the largest distance " << m.scale << ")";
    s << (m.same ? "" : ": DIFFERENT") << "\n";
  }
  for (const auto& f : c.fields) {
    s << "fields of " << f.model << ": ";
    if (!f.shapes.empty())
      s << "shapes " << f.shapes;
    else
      s << "largest difference " << f.largest << " of the largest value, beyond " << tol.rtol << " in " << f.beyond
        << " of " << f.references << " references (median reference " << f.median << ")";
    s << (tol.judge_fields ? (f.same ? "" : ": DIFFERENT") : " (not judged)") << "\n";
  }
  s << (c.same ? "same within " : "DIFFERENT beyond ") << "rtol " << tol.rtol << ", atol ";
  if (tol.atol)
    s << *tol.atol;
  else
    s << tol.rtol << " x each metric's largest distance";
  s << "\n";
  return s.str();
}

}  // namespace modelgif
