// Quadrature rules on [0, 1] for the straight path from baseline to input.
// Conventions follow the published ModelGiF code (see MODELGIF.md §2),
// including the Riemann trapezoid weights that sum to (S-1)/S.
#pragma once

#include <string>
#include <vector>

namespace modelgif {

enum class QuadratureRule { GaussLegendre, RiemannLeft, RiemannRight, RiemannMiddle, RiemannTrapezoid };

struct Quadrature {
  std::vector<double> nodes;    // alpha_k in increasing order
  std::vector<double> weights;  // w_k
};

// Parses "gausslegendre", "riemann_left", ...; throws UsageError naming the value.
QuadratureRule parse_quadrature_rule(const std::string& name);
std::string to_string(QuadratureRule rule);

// S nodes and weights of `rule`. Gauss-Legendre needs S >= 1, Riemann rules S >= 2.
Quadrature make_quadrature(QuadratureRule rule, int steps);

}  // namespace modelgif
