// Uses modelgif::core from an installed modelgif: the quadrature and the field
// of a linear function, checked against their closed forms. Prints "ok".
#include <ATen/ATen.h>

#include <cmath>
#include <iostream>

#include "modelgif/field.hpp"
#include "modelgif/quadrature.hpp"

int main() {
  using namespace modelgif;
  const Quadrature q = make_quadrature(QuadratureRule::GaussLegendre, 8);
  double sum = 0, mean = 0;
  for (size_t k = 0; k < q.nodes.size(); ++k) sum += q.weights[k], mean += q.weights[k] * q.nodes[k];
  if (std::fabs(sum - 1) > 1e-12 || std::fabs(mean - 0.5) > 1e-12) {
    std::cerr << "consumer: quadrature weights sum to " << sum << ", mean node " << mean << "\n";
    return 1;
  }
  // y = sum(a * x): its last cumulative field step is a * (x - b).
  const at::Tensor a = at::randn({1, 4, 4});
  FieldSpec spec;
  spec.steps = 8;
  spec.target = Target::parse("sum");
  const ModelFn linear = [&](const at::Tensor& x) { return (x * a).flatten(1).sum(1, true); };
  const at::Tensor x = at::randn({3, 1, 4, 4});
  const at::Tensor F =
      FieldEngine(spec, 16, c10::Device(c10::kCPU)).compute({linear, "linear", x, at::zeros_like(x)}).field;
  const double err = (F.select(1, 7) - (a * x).reshape({3, 16})).abs().max().item<double>();
  if (!(err < 1e-5)) {
    std::cerr << "consumer: field differs from a * x by " << err << "\n";
    return 1;
  }
  std::cout << "ok\n";
  return 0;
}
