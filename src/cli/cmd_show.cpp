// `modelgif show`: the distance matrices of a result file, as tables for the
// terminal, CSV, JSON or Markdown, and its pictures.
#include "analysis/pictures.hpp"
#include "base/files.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "modelgif/error.hpp"
#include "modelgif/result.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

void add_picture_options(po::options_description& desc, PictureArgs& args) {
  desc.add_options()("order", po::value(&args.order)->default_value("tree"),
                     "heatmap rows and columns: tree (the similarity tree's leaf order: a clustered heatmap) or zoo")(
      "png", po::bool_switch(&args.png), "also render every picture as PNG (librsvg, twice the SVG's size)");
}

PictureOptions picture_options_of(const PictureArgs& args, const std::string& folder) {
  PictureOptions o;
  o.folder = folder;
  o.order = parse_picture_order(args.order);
  o.png = args.png;
  return o;
}

void print_pictures(std::ostream& out, const std::vector<std::string>& paths) {
  out << "pictures: ";
  for (size_t i = 0; i < paths.size(); ++i) out << (i ? ", " : "") << paths[i];
  out << "\n";
}

namespace {

// `show RESULT --pictures DIR`: DIR is the option's value when the result came
// before it (`--pictures` alone, or before the result, takes no value).
Args with_picture_folder(const Args& args) {
  Args out;
  bool file_seen = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const bool option = !args[i].empty() && args[i][0] == '-';
    if (args[i] == "--pictures" && file_seen && i + 1 < args.size() && !args[i + 1].empty() && args[i + 1][0] != '-') {
      out.push_back("--pictures=" + args[++i]);
      continue;
    }
    // A word that is not an option's value is the result file.
    if (!option && (i == 0 || args[i - 1].rfind("--", 0) != 0 || args[i - 1].find('=') != std::string::npos ||
                    args[i - 1] == "--png" || args[i - 1] == "--pictures"))
      file_seen = true;
    out.push_back(args[i]);
  }
  return out;
}

}  // namespace

int cmd_show(const Args& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif show'");
  std::string format = "table";
  PictureArgs picture;
  desc.add_options()("help,h", "this help")("file", po::value<std::string>(), "result file (HDF5)")(
      "metric", po::value<std::string>(), "show only this metric")("precision", po::value<int>()->default_value(4),
                                                                   "digits after the point (table, markdown)")(
      "format", po::value(&format)->default_value("table"), "table, csv, json or markdown")(
      "pictures", po::value<std::string>()->implicit_value(""),
      "draw the heatmap and the similarity tree of every metric (SVG) into this folder (default: beside the "
      "result, RESULT-heatmap-METRIC.svg, RESULT-tree-METRIC.svg) instead of printing the matrices");
  add_picture_options(desc, picture);
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_command(with_picture_folder(args), desc, &pos,
                     "usage: modelgif show RESULT.h5 [--metric NAME] [--format table|csv|json|markdown]\n"
                     "                               [--precision P]\n"
                     "       modelgif show RESULT.h5 --pictures [DIR] [--order tree|zoo] [--png]\n\n"
                     "Prints the distance matrices of a result file with model names (csv and json\n"
                     "with every digit), or draws its pictures.",
                     out, vm))
    return kExitOk;
  if (!vm.count("file")) throw_usage("show: give a result file (modelgif show RESULT.h5)");
  const int precision = vm["precision"].as<int>();
  if (precision < 0 || precision > 17)
    throw_usage("show: --precision must be between 0 and 17, got " + std::to_string(precision));
  const PictureOptions pictures = picture_options_of(picture, "");
  const std::string path = vm["file"].as<std::string>();
  require_file(path, "show");
  RunResult r = read_result(path);
  if (vm.count("metric")) {
    const std::string metric = vm["metric"].as<std::string>();
    size_t i = 0;
    while (i < r.metrics.size() && r.metrics[i] != metric) ++i;
    if (i == r.metrics.size()) throw_usage("show: " + path + " has no metric " + metric);
    r.metrics = {r.metrics[i]};
    r.matrices = {r.matrices[i]};
  }
  if (vm.count("pictures")) {
    PictureOptions o = pictures;
    o.folder = vm["pictures"].as<std::string>();
    print_pictures(out, write_result_pictures(path, r, o));
    return kExitOk;
  }
  std::vector<const std::vector<double>*> matrices;
  for (const auto& m : r.matrices) matrices.push_back(&m);
  out << format_matrices(r.names, r.metrics, matrices, format, precision);
  return kExitOk;
}

}  // namespace modelgif::cli
