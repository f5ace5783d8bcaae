// `modelgif submit`: one run as a SLURM batch job that checkpoints on the
// time-limit warning and requeues itself until done.
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/slurm.hpp"
#include "modelgif/error.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace modelgif::cli {

int cmd_submit(const Args& args, std::ostream& out) {
  Resources r;
  bool dry = false;
  std::string config;
  po::options_description desc("options of 'modelgif submit'");
  desc.add_options()("help,h", "this help")("config", po::value(&config), "run config (YAML)")(
      "dry-run", po::bool_switch(&dry), "print the batch submission only");
  add_resource_options(desc, r);
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  // Everything after "--" goes to `modelgif run` (config overrides).
  const auto dash = std::find(args.begin(), args.end(), "--");
  const std::vector<std::string> mine(args.begin(), dash);
  const std::vector<std::string> run_args(dash == args.end() ? args.end() : dash + 1, args.end());
  if (!parse_command(mine, desc, &pos,
                     "usage: modelgif submit CONFIG.yaml [resources] [--dry-run] [-- modelgif run options]\n\n"
                     "Writes the batch script beside the run's output and submits it with sbatch; the\n"
                     "job checkpoints on SLURM's warning signal and requeues itself until done.",
                     out, vm))
    return kExitOk;
  if (config.empty()) throw_usage("submit: give a run config (modelgif submit CONFIG.yaml)");
  check_resources(r);
  // Validate now, with the options the job's `modelgif run` will get, parsed as `run` parses them.
  po::variables_map run_vm;
  std::ostringstream help;
  if (!parse_command(run_args, run_options(), nullptr, "", help, run_vm))
    throw_usage("submit: --help after -- : see 'modelgif run --help'");
  const RunArgs parsed = run_args_of(run_vm);
  if (!parsed.config.empty()) throw_usage("submit: give the config before --, not as --config after it");
  const RunConfig cfg = load_config_file(config, parsed.overrides, parsed.zoo);
  const std::string script = cfg.output_path + ".sbatch";
  const std::string name = "modelgif-" + fs::path(cfg.output_path).stem().string();
  auto opts = sbatch_options(cfg, r, name, cfg.output_path + ".slurm-%j.log");
  opts.push_back(script);
  for (const auto& a :
       std::vector<std::string>{"--bin", self_path(), "--max-idle-starts", std::to_string(r.max_idle_starts),
                                "--launcher", r.launcher, "--", "--config", config})
    opts.push_back(a);
  opts.insert(opts.end(), run_args.begin(), run_args.end());
  out << "sbatch " << join(opts) << "\n";
  if (dry) return kExitOk;
  write_script(script);
  out << "submitted job " << sbatch(opts) << " (log " << cfg.output_path
      << ".slurm-<job>.log; progress: modelgif status " << cfg.output_path << ")\n";
  return kExitOk;
}

}  // namespace modelgif::cli
