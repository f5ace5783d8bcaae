// `modelgif show`: the distance matrices of a result file.
#include "base/files.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "modelgif/error.hpp"
#include "modelgif/result.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

int cmd_show(const Args& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif show'");
  desc.add_options()("help,h", "this help")("file", po::value<std::string>(), "result file (HDF5)")(
      "metric", po::value<std::string>(), "show only this metric")("precision", po::value<int>()->default_value(4),
                                                                   "digits after the point");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif show RESULT.h5 [--metric NAME] [--precision P]\n\n"
                     "Prints the distance matrices of a result file with model names.",
                     out, vm))
    return kExitOk;
  if (!vm.count("file")) throw_usage("show: give a result file (modelgif show RESULT.h5)");
  const int precision = vm["precision"].as<int>();
  if (precision < 0 || precision > 17)
    throw_usage("show: --precision must be between 0 and 17, got " + std::to_string(precision));
  const std::string path = vm["file"].as<std::string>();
  require_file(path, "show");
  const RunResult r = read_result(path);
  bool shown = false;
  for (size_t i = 0; i < r.metrics.size(); ++i) {
    if (vm.count("metric") && vm["metric"].as<std::string>() != r.metrics[i]) continue;
    out << (shown ? "\n" : "") << r.metrics[i] << " distance:\n" << format_matrix(r.names, r.matrices[i], precision);
    shown = true;
  }
  if (!shown) throw_usage("show: " + path + " has no metric " + vm["metric"].as<std::string>());
  return kExitOk;
}

}  // namespace modelgif::cli
