// `modelgif demo`: the built-in default. Trains the demo zoo once (cached),
// runs configs/demo.yaml on it, prints the matrices and checks that every
// model derived from the source is nearer it than every independent model.
#include "analysis/eval.hpp"
#include "analysis/report.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "inputs/fashion.hpp"
#include "modelgif/error.hpp"
#include "modelgif/model.hpp"
#include "modelgif/pipeline.hpp"
#include "testbeds/testbed.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

int cmd_demo(const Args& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif demo'");
  std::string dir, data;
  int threads = 0;
  desc.add_options()("help,h", "this help")("dir", po::value(&dir)->default_value("runs/demo"),
                                            "working folder: the cached zoo (DIR/models) and the result")(
      "data", po::value(&data)->default_value(kFashionFolder), "Fashion-MNIST IDX folder")(
      "threads", po::value(&threads)->default_value(0), "threads (0 = all cores)");
  po::variables_map vm;
  if (!parse_command(args, desc, nullptr,
                     "usage: modelgif demo [--dir DIR] [--data FOLDER] [--threads N]\n\n"
                     "Trains the built-in Fashion-MNIST zoo once (cached in DIR/models), computes its\n"
                     "ModelGiF distances on Fashion-MNIST test images and checks that every model\n"
                     "derived from the source is closer to it than every independent model\n"
                     "(exit 6 when it is not).",
                     out, vm))
    return kExitOk;
  if (threads < 0) throw_usage("demo: --threads must be >= 0 (0 = all cores)");
  set_threads(threads);
  run_zoo(demo_testbed(dir, data), out);
  const RunConfig cfg = load_config_file(dir + "/run.yaml", {{"run.threads", std::to_string(threads)}});
  RunOptions opt;
  opt.recompute = true;  // the demo owns its folder: a retrained zoo replaces the old shards
  const RunSummary s = run_pipeline(cfg, out, opt);
  const Roles roles = load_roles(dir + "/roles.yaml");
  bool ok = true;
  for (size_t k = 0; k < s.metrics.size(); ++k) {
    out << "\n" << to_string(s.metrics[k]) << " distance:\n" << format_matrix(s.names, s.matrices[k]);
    const Separation check = positives_nearer_than_negatives(s.names, s.matrices[k], roles);
    out << format_separation(to_string(s.metrics[k]), check);
    ok = ok && check.ok;
  }
  write_run_pictures(cfg, s, out);
  return ok ? kExitOk : kExitCheckFailed;
}

}  // namespace modelgif::cli
