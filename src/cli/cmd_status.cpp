// `modelgif status`: a run's progress, read from its checkpoint alone (no MPI).
#include "cli/commands.hpp"
#include "modelgif/error.hpp"
#include "run/status.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

int cmd_status(const Args& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif status'");
  desc.add_options()("help,h", "this help")("run", po::value<std::vector<std::string>>(),
                                            "result file, checkpoint folder, or a folder of runs")(
      "verify", "read every shard's data and check its checksum (default: headers and sizes only)");
  po::positional_options_description pos;
  pos.add("run", -1);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif status RUN [RUN ...] [--verify]\n\n"
                     "Reads a run's checkpoint (RUN: the output file, its .ckpt folder, or a folder\n"
                     "holding runs) without MPI and prints progress per model, the fingerprint and\n"
                     "what remains. Shards are judged by their headers and sizes (seconds for any\n"
                     "checkpoint); --verify reads their data and checks their checksums.",
                     out, vm))
    return kExitOk;
  if (!vm.count("run")) throw_usage("status: give a run (modelgif status OUTPUT.h5)");
  for (const auto& r : vm["run"].as<std::vector<std::string>>()) print_status(r, out, vm.count("verify") > 0);
  return kExitOk;
}

}  // namespace modelgif::cli
