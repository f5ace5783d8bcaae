// Quadrature rules on [0, 1] for the straight path from baseline to input.
// Conventions follow the published ModelGiF code (see MODELGIF.md §2),
// including the Riemann trapezoid weights that sum to (S-1)/S.
#pragma once

#include <string>
#include <vector>

namespace modelgif {

// Endpoint is modelgif's own: one node at alpha = 1 with weight 1 (S = 1), the
// plain gradient at the input (the saliency and input x gradient presets).
enum class QuadratureRule { GaussLegendre, RiemannLeft, RiemannRight, RiemannMiddle, RiemannTrapezoid, Endpoint };

struct Quadrature {
  std::vector<double> nodes;    // alpha_k in increasing order
  std::vector<double> weights;  // w_k
};

// Parses "gausslegendre", "riemann_left", ...; throws UsageError naming the value.
QuadratureRule parse_quadrature_rule(const std::string& name);
std::string to_string(QuadratureRule rule);

// S nodes and weights of `rule`. Gauss-Legendre needs S >= 1, Riemann rules S >= 2,
// Endpoint S = 1.
Quadrature make_quadrature(QuadratureRule rule, int steps);

}  // namespace modelgif
