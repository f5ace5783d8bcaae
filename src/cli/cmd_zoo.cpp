// `modelgif zoo`: train a testbed zoo (cached; one model per MPI rank).
#include "cli/commands.hpp"
#include "modelgif/comm.hpp"
#include "modelgif/error.hpp"
#include "modelgif/model.hpp"
#include "testbeds/testbed.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

int cmd_zoo(const Args& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif zoo'");
  std::string config;
  int threads = 0;
  desc.add_options()("help,h", "this help")("config", po::value(&config), "testbed zoo config (YAML)")(
      "threads", po::value(&threads)->default_value(0), "threads per rank (0 = the cores divided by the ranks)");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: [mpirun -np P] modelgif zoo CONFIG.yaml [--threads N]\n\n"
                     "Trains a testbed zoo on Fashion-MNIST (cached: only missing models are trained;\n"
                     "one model per MPI rank) and writes DIR/run.yaml and DIR/roles.yaml for\n"
                     "`modelgif run` and `modelgif eval`.",
                     out, vm))
    return kExitOk;
  if (config.empty()) throw_usage("zoo: give a testbed config (modelgif zoo configs/testbed-fingerprint.yaml)");
  if (threads < 0) throw_usage("zoo: --threads must be >= 0 (0 = the cores divided by the ranks on the node)");
  const comm::Comm world = comm::Comm::world();  // starts MPI when launched under it
  TestbedConfig cfg;
  comm::collective(world, [&] { cfg = load_testbed(config); });  // a rank that cannot read it stops them all
  const int used = set_threads(threads, world.split_shared().size());
  if (world.rank() == 0)
    out << "zoo: " << world.size() << " rank" << (world.size() > 1 ? "s" : "") << " x " << used << " thread"
        << (used > 1 ? "s" : "") << " each (a zoo is the same bytes again for the same ranks and threads)\n";
  run_zoo(cfg, out);
  if (world.rank() == 0)
    out << "next: modelgif run --config " << cfg.dir << "/run.yaml\n      modelgif eval " << cfg.dir
        << "/out.h5 --roles " << cfg.dir << "/roles.yaml\n";
  return kExitOk;
}

}  // namespace modelgif::cli
