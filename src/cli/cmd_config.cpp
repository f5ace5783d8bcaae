// `modelgif config`: the configuration's keys, from the table that checks them.
#include "cli/commands.hpp"
#include "modelgif/config.hpp"
#include "modelgif/error.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

int cmd_config(const Args& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif config'");
  desc.add_options()("help,h", "this help")("reference", "print every key as a Markdown table (docs/configuration.md)")(
      "check", po::value<std::string>(), "FILE.yaml: check a run config (and print it resolved) without running");
  po::variables_map vm;
  if (!parse_command(args, desc, nullptr,
                     "usage: modelgif config --reference | --check FILE.yaml\n\n"
                     "--reference prints the configuration reference: every key with its default,\n"
                     "what it is and the values it takes, from the table that checks them (so the\n"
                     "documentation cannot drift from the program). --check reads a run config as\n"
                     "`run` would and prints it resolved, every value in canonical form.",
                     out, vm))
    return kExitOk;
  if (vm.count("reference")) {
    out << config_reference();
    return kExitOk;
  }
  if (vm.count("check")) {
    out << load_config_file(vm["check"].as<std::string>()).resolved_yaml << "\n";
    return kExitOk;
  }
  throw_usage("config: give --reference or --check FILE.yaml");
}

}  // namespace modelgif::cli
