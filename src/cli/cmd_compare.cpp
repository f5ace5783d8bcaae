// `modelgif compare`: two result files against each other.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "base/files.hpp"
#include "cli/commands.hpp"
#include "core/shape.hpp"
#include "modelgif/error.hpp"
#include "modelgif/result.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

int cmd_compare(const Args& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif compare'");
  double rtol = 1e-6, atol = 0;
  desc.add_options()("help,h", "this help")("files", po::value<std::vector<std::string>>(), "two result files")(
      "rtol", po::value(&rtol)->default_value(1e-6), "largest relative difference accepted")(
      "atol", po::value(&atol)->default_value(0), "a distance within this absolute difference is accepted too")(
      "distances-only", "judge the distances only; the fields' differences are printed, not judged");
  po::positional_options_description pos;
  pos.add("files", 2);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif compare A.h5 B.h5 [--rtol R] [--atol A] [--distances-only]\n\n"
                     "Compares two result files: the same models and metrics, every distance within\n"
                     "relative R (or absolute A), and the stored fields of models both files hold\n"
                     "(relative to the field's largest value, within R; --distances-only prints\n"
                     "them without judging: a bfloat16 run's fields differ pointwise where a ReLU\n"
                     "or a max-pool decides otherwise). Prints the largest differences; exit 0\n"
                     "when they agree, 5 when they do not (other models or metrics included).",
                     out, vm))
    return kExitOk;
  const auto files = vm.count("files") ? vm["files"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (files.size() != 2) throw_usage("compare: give two result files");
  for (const auto& f : files) require_file(f, "compare");
  const RunResult a = read_result(files[0]), b = read_result(files[1]);
  if (!(rtol >= 0)) throw_usage("compare: --rtol must be >= 0, got " + std::to_string(rtol));
  if (!(atol >= 0)) throw_usage("compare: --atol must be >= 0, got " + std::to_string(atol));
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
    double worst = 0, worst_abs = 0;
    for (size_t j = 0; j < a.matrices[i].size(); ++j) {
      const double x = a.matrices[i][j], y = b.matrices[i][j], d = std::fabs(x - y);
      const double rel = d / std::max(1e-300, std::max(std::fabs(x), std::fabs(y)));
      worst = std::max(worst, rel), worst_abs = std::max(worst_abs, d);
      same = same && (rel <= rtol || d <= atol);
    }
    out << a.metrics[i] << ": largest relative difference " << worst << " (absolute " << worst_abs << ")\n";
  }
  const bool judge_fields = vm.count("distances-only") == 0;
  for (const auto& name : a.names) {
    if (!has_fields(files[0], name) || !has_fields(files[1], name)) continue;  // not stored in both
    const at::Tensor fa = read_fields(files[0], name), fb = read_fields(files[1], name);
    if (fa.sizes() != fb.sizes()) {
      out << "fields of " << name << ": shapes " << shape_str(fa.sizes()) << " and " << shape_str(fb.sizes())
          << (judge_fields ? "" : " (not judged)") << "\n";
      same = same && !judge_fields;
      continue;
    }
    const double worst =
        fa.numel() == 0 ? 0.0 : (fa - fb).abs().max().item<double>() / std::max(1e-30, fb.abs().max().item<double>());
    out << "fields of " << name << ": largest difference " << worst << " of the largest value"
        << (judge_fields ? "" : " (not judged)") << "\n";
    same = same && (!judge_fields || worst <= rtol);
  }
  out << (same ? "same within " : "DIFFERENT beyond ") << rtol;
  if (atol > 0) out << " (or " << atol << " absolute)";
  out << "\n";
  return same ? kExitOk : kExitDifferent;
}

}  // namespace modelgif::cli
