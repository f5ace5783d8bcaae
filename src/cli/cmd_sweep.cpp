// `modelgif sweep`: a sweep as a SLURM job array plus a collect job; its
// summary; its list of complete and pending variations.
#include "analysis/sweep.hpp"
#include "base/files.hpp"
#include "cli/commands.hpp"
#include "cli/slurm.hpp"
#include "modelgif/error.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

int cmd_sweep(const Args& args, std::ostream& out) {
  Resources r;
  bool dry = false;
  std::string action, path;
  po::options_description desc("options of 'modelgif sweep'");
  desc.add_options()("help,h", "this help")("action", po::value(&action), "submit, collect or list")(
      "sweep", po::value(&path), "sweep file (YAML)")("dry-run", po::bool_switch(&dry), "print the submissions only");
  add_resource_options(desc, r);
  po::positional_options_description pos;
  pos.add("action", 1).add("sweep", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif sweep submit SWEEP.yaml [resources] [--dry-run]\n"
                     "       modelgif sweep collect SWEEP.yaml\n"
                     "       modelgif sweep list SWEEP.yaml\n\n"
                     "submit: writes each variation's run config under the sweep's folder and submits\n"
                     "the variations not yet complete as one job array, plus a collect job that runs\n"
                     "when they have ended. collect: gathers every complete variation into\n"
                     "DIR/summary.csv and DIR/summary.h5 and prints a table. list: the variations and\n"
                     "whether each is complete.",
                     out, vm))
    return kExitOk;
  if (path.empty() || (action != "submit" && action != "collect" && action != "list"))
    throw_usage("sweep: expected 'modelgif sweep submit|collect|list SWEEP.yaml'");
  check_resources(r);
  const Sweep sweep = load_sweep(path);
  if (action == "collect") {
    out << collect_sweep(sweep).table;
    return kExitOk;
  }
  if (action == "list") {
    out << sweep_listing(sweep);
    return kExitOk;
  }
  const std::vector<const Variation*> pending = pending_variations(sweep);
  out << "sweep " << sweep.name << ": " << sweep.variations.size() << " variations, "
      << sweep.variations.size() - pending.size() << " already complete (skipped), " << pending.size() << " to run\n";
  std::vector<std::string> collect = {"--job-name=modelgif-" + sweep.name + "-collect", "--ntasks=1", "--time=00:30:00",
                                      "--output=" + sweep.dir + "/collect-%j.log",
                                      "--wrap=" + quote(self_path()) + " sweep collect " + quote(path)};
  if (!r.partition.empty()) collect.insert(collect.begin(), "--partition=" + r.partition);
  if (!r.account.empty()) collect.insert(collect.begin(), "--account=" + r.account);
  if (pending.empty()) {
    out << "nothing to run; collecting now\n" << collect_sweep(sweep).table;
    return kExitOk;
  }
  const std::string list = pending_list_path(sweep), script = sweep.dir + "/modelgif.sbatch";
  auto opts = sbatch_options(pending.front()->config, r, "modelgif-" + sweep.name, sweep.dir + "/slurm-%A_%a.log");
  opts.push_back("--array=0-" + std::to_string(pending.size() - 1));
  opts.push_back(script);
  for (const auto& a :
       std::vector<std::string>{"--bin", self_path(), "--max-idle-starts", std::to_string(r.max_idle_starts),
                                "--launcher", r.launcher, "--list", list})
    opts.push_back(a);
  out << "sbatch " << join(opts) << "\n";
  out << "sbatch --dependency=afterany:<array job> " << join(collect) << "\n";
  if (dry) return kExitOk;
  write_variation_configs(sweep);
  write_pending_list(sweep, pending);
  write_script(script);
  const std::string array = sbatch(opts);
  collect.insert(collect.begin(), "--dependency=afterany:" + array);
  const std::string collector = sbatch(collect);
  out << "submitted array job " << array << " (" << pending.size() << " tasks) and collect job " << collector
      << " (summary in " << sweep.dir << "/summary.csv)\n";
  return kExitOk;
}

}  // namespace modelgif::cli
