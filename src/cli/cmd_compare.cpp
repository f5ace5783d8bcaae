// `modelgif compare`: two result files against each other.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "base/files.hpp"
#include "cli/commands.hpp"
#include "modelgif/error.hpp"
#include "modelgif/result.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

int cmd_compare(const Args& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif compare'");
  double rtol = 1e-6;
  desc.add_options()("help,h", "this help")("files", po::value<std::vector<std::string>>(), "two result files")(
      "rtol", po::value(&rtol)->default_value(1e-6), "largest relative difference accepted");
  po::positional_options_description pos;
  pos.add("files", 2);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif compare A.h5 B.h5 [--rtol R]\n\n"
                     "Compares two result files: the same models and metrics, every distance within\n"
                     "relative R, and the stored fields of models both files hold (relative to the\n"
                     "field's largest value). Prints the largest differences; exit 0 when they agree,\n"
                     "5 when they do not (other models or metrics included).",
                     out, vm))
    return kExitOk;
  const auto files = vm.count("files") ? vm["files"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (files.size() != 2) throw_usage("compare: give two result files");
  for (const auto& f : files) require_file(f, "compare");
  const RunResult a = read_result(files[0]), b = read_result(files[1]);
  if (!(rtol >= 0)) throw_usage("compare: --rtol must be >= 0, got " + std::to_string(rtol));
  const auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return "[" + s + "]";
  };
  // Results of other zoos or metrics differ: said, with the exit code of a difference.
  for (const auto& [what, x, y] :
       {std::tuple<std::string, std::vector<std::string>, std::vector<std::string>>{"models", a.names, b.names},
        {"metrics", a.metrics, b.metrics}})
    if (x != y) {
      out << "DIFFERENT " << what << ": " << files[0] << " holds " << list(x) << ", " << files[1] << " holds "
          << list(y) << "\n";
      return kExitDifferent;
    }
  bool same = true;
  for (size_t i = 0; i < a.metrics.size(); ++i) {
    double worst = 0;
    for (size_t j = 0; j < a.matrices[i].size(); ++j)
      worst = std::max(worst, std::fabs(a.matrices[i][j] - b.matrices[i][j]) /
                                  std::max(1e-300, std::max(std::fabs(a.matrices[i][j]), std::fabs(b.matrices[i][j]))));
    out << a.metrics[i] << ": largest relative difference " << worst << "\n";
    same = same && worst <= rtol;
  }
  for (const auto& name : a.names) {
    if (!has_fields(files[0], name) || !has_fields(files[1], name)) continue;  // not stored in both
    const at::Tensor fa = read_fields(files[0], name), fb = read_fields(files[1], name);
    if (fa.sizes() != fb.sizes()) throw_input("compare: fields of '" + name + "' have different shapes");
    const double worst =
        fa.numel() == 0 ? 0.0 : (fa - fb).abs().max().item<double>() / std::max(1e-30, fb.abs().max().item<double>());
    out << "fields of " << name << ": largest difference " << worst << " of the largest value\n";
    same = same && worst <= rtol;
  }
  out << (same ? "same within " : "DIFFERENT beyond ") << rtol << "\n";
  return same ? kExitOk : kExitDifferent;
}

}  // namespace modelgif::cli
