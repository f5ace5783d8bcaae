// `modelgif compare`: two result files against each other (analysis/compare.hpp).
#include "analysis/compare.hpp"
#include "base/files.hpp"
#include "cli/commands.hpp"
#include "modelgif/error.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

int cmd_compare(const Args& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif compare'");
  Tolerance tol;
  desc.add_options()("help,h", "this help")("files", po::value<std::vector<std::string>>(), "two result files")(
      "rtol", po::value(&tol.rtol)->default_value(1e-6), "relative tolerance: |a - b| <= atol + rtol |b|")(
      "atol", po::value<double>(),
      "absolute tolerance (default: rtol x each metric's largest distance, the metric's own scale)")(
      "distances-only", "judge the distances only; the fields' differences are printed, not judged");
  po::positional_options_description pos;
  pos.add("files", 2);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif compare A.h5 B.h5 [--rtol R] [--atol A] [--distances-only]\n\n"
                     "Compares two result files as numpy.allclose does: the same models and metrics,\n"
                     "every distance within |a - b| <= atol + rtol |b|, where atol is by default rtol\n"
                     "times the metric's largest distance (so that rounding of the fields, tiny\n"
                     "against the distances, is not a difference where a distance is near 0), and\n"
                     "the stored fields of models both files hold within rtol of the field's largest\n"
                     "value (--distances-only prints them without judging: a bfloat16 run's fields\n"
                     "differ pointwise where a ReLU or a max-pool decides otherwise). Prints per\n"
                     "metric the largest difference and the pair closest to the tolerance; exit 0\n"
                     "when they agree, 5 when they do not (other models or metrics included).",
                     out, vm))
    return kExitOk;
  const auto files = vm.count("files") ? vm["files"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (files.size() != 2) throw_usage("compare: give two result files");
  for (const auto& f : files) require_file(f, "compare");
  if (!(tol.rtol >= 0)) throw_usage("compare: --rtol must be >= 0, got " + std::to_string(tol.rtol));
  if (vm.count("atol")) {
    tol.atol = vm["atol"].as<double>();
    if (!(*tol.atol >= 0)) throw_usage("compare: --atol must be >= 0, got " + std::to_string(*tol.atol));
  }
  tol.judge_fields = vm.count("distances-only") == 0;
  const Comparison c = compare_results(files[0], files[1], tol);
  out << format_comparison(c, tol);
  return c.same ? kExitOk : kExitDifferent;
}

}  // namespace modelgif::cli
