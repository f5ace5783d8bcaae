#include "modelgif/quadrature.hpp"

#include <cmath>

#include "modelgif/error.hpp"

namespace modelgif {
namespace {

const char* const kRuleNames[] = {"gausslegendre",  "riemann_left",      "riemann_right",
                                  "riemann_middle", "riemann_trapezoid", "endpoint"};

// numpy.linspace(a, b, n): n evenly spaced values, endpoints included.
std::vector<double> linspace(double a, double b, int n) {
  std::vector<double> v(static_cast<size_t>(n));
  if (n == 1) {
    v[0] = a;
    return v;
  }
  const double step = (b - a) / (n - 1);
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = a + step * i;
  v.back() = b;
  return v;
}

// P_n(x) and P_n'(x) by the three-term recurrence.
void legendre(int n, double x, double& p, double& dp) {
  double p0 = 1.0, p1 = x;
  for (int k = 2; k <= n; ++k) {
    const double p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
    p0 = p1;
    p1 = p2;
  }
  p = p1;
  dp = n * (x * p1 - p0) / (x * x - 1.0);
}

// Gauss-Legendre nodes t_k on [-1, 1] (increasing) and weights v_k (sum 2),
// by Newton's method on the Legendre polynomial P_S; exact to ~1e-15.
void gauss_legendre(int n, std::vector<double>& t, std::vector<double>& v) {
  t.assign(static_cast<size_t>(n), 0.0);
  v.assign(static_cast<size_t>(n), 0.0);
  const double pi = std::acos(-1.0);
  for (int i = 0; i < (n + 1) / 2; ++i) {
    double x = std::cos(pi * (i + 0.75) / (n + 0.5));  // root i, from the top
    double p = 0.0, dp = 0.0;
    for (int iter = 0; iter < 100; ++iter) {
      legendre(n, x, p, dp);
      const double dx = p / dp;
      x -= dx;
      if (std::fabs(dx) < 1e-16) break;
    }
    legendre(n, x, p, dp);  // the derivative at the converged root, for the weight
    const double w = 2.0 / ((1.0 - x * x) * dp * dp);
    // Roots are symmetric: x (positive) goes to the top, -x to the bottom.
    t[static_cast<size_t>(n - 1 - i)] = x;
    t[static_cast<size_t>(i)] = -x;
    v[static_cast<size_t>(n - 1 - i)] = w;
    v[static_cast<size_t>(i)] = w;
  }
  if (n % 2 == 1) t[static_cast<size_t>(n / 2)] = 0.0;
}

}  // namespace

QuadratureRule parse_quadrature_rule(const std::string& name) {
  for (int i = 0; i < 6; ++i)
    if (name == kRuleNames[i]) return static_cast<QuadratureRule>(i);
  throw_usage("unknown quadrature method '" + name +
              "' (expected gausslegendre, riemann_left, riemann_right, riemann_middle, riemann_trapezoid or "
              "endpoint)");
}

std::string to_string(QuadratureRule rule) { return kRuleNames[static_cast<int>(rule)]; }

Quadrature make_quadrature(QuadratureRule rule, int steps) {
  if (steps < 1) throw_usage("field.steps must be >= 1, got " + std::to_string(steps));
  if (rule == QuadratureRule::Endpoint) {
    if (steps != 1)
      throw_usage("quadrature method endpoint has one node (alpha = 1): it needs field.steps 1, got " +
                  std::to_string(steps));
    return Quadrature{{1.0}, {1.0}};
  }
  if (rule != QuadratureRule::GaussLegendre && steps < 2)
    throw_usage("quadrature method " + to_string(rule) + " needs field.steps > 1, got " + std::to_string(steps));
  Quadrature q;
  const int S = steps;
  switch (rule) {
    case QuadratureRule::GaussLegendre: {
      std::vector<double> t, v;
      gauss_legendre(S, t, v);
      for (int k = 0; k < S; ++k) {
        q.nodes.push_back((1.0 + t[static_cast<size_t>(k)]) / 2.0);
        q.weights.push_back(v[static_cast<size_t>(k)] / 2.0);
      }
      return q;
    }
    case QuadratureRule::RiemannLeft:
      q.nodes = linspace(0.0, 1.0 - 1.0 / S, S);
      break;
    case QuadratureRule::RiemannRight:
      q.nodes = linspace(1.0 / S, 1.0, S);
      break;
    case QuadratureRule::RiemannMiddle:
      q.nodes = linspace(1.0 / (2.0 * S), 1.0 - 1.0 / (2.0 * S), S);
      break;
    case QuadratureRule::RiemannTrapezoid:
      q.nodes = linspace(0.0, 1.0, S);
      break;
    case QuadratureRule::Endpoint:  // handled above
      break;
  }
  q.weights.assign(static_cast<size_t>(S), 1.0 / S);
  if (rule == QuadratureRule::RiemannTrapezoid) {
    q.weights.front() *= 0.5;
    q.weights.back() *= 0.5;
  }
  return q;
}

}  // namespace modelgif
