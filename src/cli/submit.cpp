// `modelgif submit` and `modelgif sweep`: SLURM batch submission of one run or
// of a sweep (a job array plus a dependent collect job).
#include <boost/program_options.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.hpp"
#include "modelgif/error.hpp"
#include "analysis/sweep.hpp"
#include "slurm_script.inc"  // generated from slurm/modelgif.sbatch: kSlurmScriptText

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace modelgif::cli {
namespace {

struct Resources {
  int nodes = 1, tasks_per_node = 0, gpus_per_task = -1, cpus_per_task = 0, max_requeues = 5, signal_seconds = 120;
  std::string time = "01:00:00", partition, account, launcher = "auto";
  std::vector<std::string> extra;
};

void add_resource_options(po::options_description& d, Resources& r) {
  d.add_options()("nodes", po::value(&r.nodes)->default_value(1), "nodes")(
      "tasks-per-node", po::value(&r.tasks_per_node)->default_value(0),
      "MPI ranks per node (0 = from the config: min(models x blocks, 4))")(
      "gpus-per-task", po::value(&r.gpus_per_task)->default_value(-1),
      "GPUs per rank (-1 = from the config: 1 when run.device is cuda, else 0)")(
      "cpus-per-task", po::value(&r.cpus_per_task)->default_value(0),
      "cores per rank (0 = run.threads when set, else 1)")("time", po::value(&r.time)->default_value("01:00:00"),
                                                          "time limit of one allocation")(
      "partition", po::value(&r.partition), "partition")("account", po::value(&r.account), "account")(
      "signal-seconds", po::value(&r.signal_seconds)->default_value(120),
      "USR1 this many seconds before the time limit: checkpoint and requeue")(
      "max-requeues", po::value(&r.max_requeues)->default_value(5),
      "requeues at most (a job that makes no progress stops)")(
      "launcher", po::value(&r.launcher)->default_value("auto"), "auto (srun --mpi=pmix, else mpirun), srun, mpirun")(
      "sbatch", po::value(&r.extra)->composing(), "extra sbatch option, e.g. --sbatch=--qos=long (repeatable)");
}

std::string quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : " ") + quote(a);
  return s;
}

std::string self_path() {
  std::error_code ec;
  const auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("modelgif") : p.string();
}

// The sbatch options of a run with config `cfg`.
std::vector<std::string> sbatch_options(const RunConfig& cfg, Resources r, const std::string& name,
                                        const std::string& log) {
  const int64_t blocks = cfg.refs.count > 0 ? (cfg.refs.count + cfg.block - 1) / cfg.block : 1;
  const int64_t pieces = static_cast<int64_t>(cfg.zoo.size()) * blocks;
  if (r.tasks_per_node <= 0) r.tasks_per_node = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(pieces, 4)));
  if (r.gpus_per_task < 0) r.gpus_per_task = cfg.device.rfind("cuda", 0) == 0 ? 1 : 0;
  if (r.cpus_per_task <= 0) r.cpus_per_task = cfg.threads > 0 ? static_cast<int>(cfg.threads) : 1;
  if (r.nodes < 1) throw_usage("submit: --nodes must be >= 1");
  std::vector<std::string> o = {"--job-name=" + name,
                                "--nodes=" + std::to_string(r.nodes),
                                "--ntasks-per-node=" + std::to_string(r.tasks_per_node),
                                "--cpus-per-task=" + std::to_string(r.cpus_per_task),
                                "--time=" + r.time,
                                "--signal=B:USR1@" + std::to_string(r.signal_seconds),
                                "--requeue",
                                "--open-mode=append",
                                "--output=" + log};
  if (r.gpus_per_task > 0) o.push_back("--gpus-per-task=" + std::to_string(r.gpus_per_task));
  if (!r.partition.empty()) o.push_back("--partition=" + r.partition);
  if (!r.account.empty()) o.push_back("--account=" + r.account);
  o.insert(o.end(), r.extra.begin(), r.extra.end());
  return o;
}

std::string write_script(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream f(path);
  if (!f) throw_input("submit: cannot write the batch script " + path);
  f << kSlurmScriptText;
  f.close();
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add, ec);
  return path;
}

// Runs sbatch --parsable; returns the job id.
std::string sbatch(const std::vector<std::string>& args) {
  const std::string cmd = "sbatch --parsable " + join(args) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw_input("submit: cannot run sbatch");
  std::string text;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) text += buf;
  const int st = pclose(p);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (st != 0) throw_input("submit: sbatch failed: " + text.substr(text.rfind('\n') + 1));
  const std::string last = text.substr(text.rfind('\n') + 1);
  return last.substr(0, last.find(';'));
}

}  // namespace

int cmd_submit(const std::vector<std::string>& args, std::ostream& out) {
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
  // Validate now, with the same overrides the job will get.
  std::vector<std::pair<std::string, std::string>> overrides;
  std::vector<std::string> zoo;
  for (size_t i = 0; i + 1 < run_args.size(); ++i) {
    if (run_args[i] == "--zoo") zoo.push_back(run_args[i + 1]), ++i;
    else if (run_args[i].rfind("--", 0) == 0 && run_args[i].find('.') != std::string::npos)
      overrides.emplace_back(run_args[i].substr(2), run_args[i + 1]), ++i;
  }
  const RunConfig cfg = load_config_file(config, overrides, zoo);
  const std::string script = cfg.output_path + ".sbatch";
  const std::string name = "modelgif-" + fs::path(cfg.output_path).stem().string();
  auto opts = sbatch_options(cfg, r, name, cfg.output_path + ".slurm-%j.log");
  opts.push_back(script);
  for (const auto& a : std::vector<std::string>{"--bin", self_path(), "--max-requeues", std::to_string(r.max_requeues),
                                                "--launcher", r.launcher, "--", "--config", config})
    opts.push_back(a);
  opts.insert(opts.end(), run_args.begin(), run_args.end());
  out << "sbatch " << join(opts) << "\n";
  if (dry) return kExitOk;
  write_script(script);
  out << "submitted job " << sbatch(opts) << " (log " << cfg.output_path << ".slurm-<job>.log; progress: modelgif status "
      << cfg.output_path << ")\n";
  return kExitOk;
}

int cmd_sweep(const std::vector<std::string>& args, std::ostream& out) {
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
  const Sweep sweep = load_sweep(path);
  if (action == "collect") {
    out << collect_sweep(sweep).table;
    return kExitOk;
  }
  std::vector<const Variation*> pending;
  for (const auto& v : sweep.variations) {
    const bool done = v.complete();
    if (action == "list") out << (done ? "complete  " : "pending   ") << v.name << "  " << v.config.output_path << "\n";
    if (!done) pending.push_back(&v);
  }
  if (action == "list") return kExitOk;
  out << "sweep " << sweep.name << ": " << sweep.variations.size() << " variations, "
      << sweep.variations.size() - pending.size() << " already complete (skipped), " << pending.size()
      << " to run\n";
  std::vector<std::string> collect = {"--job-name=modelgif-" + sweep.name + "-collect", "--ntasks=1",
                                      "--time=00:30:00", "--output=" + sweep.dir + "/collect-%j.log",
                                      "--wrap=" + quote(self_path()) + " sweep collect " + quote(path)};
  if (!r.partition.empty()) collect.insert(collect.begin(), "--partition=" + r.partition);
  if (!r.account.empty()) collect.insert(collect.begin(), "--account=" + r.account);
  if (pending.empty()) {
    out << "nothing to run; collecting now\n" << collect_sweep(sweep).table;
    return kExitOk;
  }
  const std::string list = sweep.dir + "/pending.list", script = sweep.dir + "/modelgif.sbatch";
  auto opts = sbatch_options(pending.front()->config, r, "modelgif-" + sweep.name, sweep.dir + "/slurm-%A_%a.log");
  opts.push_back("--array=0-" + std::to_string(pending.size() - 1));
  opts.push_back(script);
  for (const auto& a : std::vector<std::string>{"--bin", self_path(), "--max-requeues", std::to_string(r.max_requeues),
                                                "--launcher", r.launcher, "--list", list})
    opts.push_back(a);
  out << "sbatch " << join(opts) << "\n";
  out << "sbatch --dependency=afterany:<array job> " << join(collect) << "\n";
  if (dry) return kExitOk;
  write_variation_configs(sweep);
  {
    std::ofstream l(list);
    for (const auto* v : pending) l << v->config_path() << "\n";
  }
  write_script(script);
  const std::string array = sbatch(opts);
  collect.insert(collect.begin(), "--dependency=afterany:" + array);
  const std::string collector = sbatch(collect);
  out << "submitted array job " << array << " (" << pending.size() << " tasks) and collect job " << collector
      << " (summary in " << sweep.dir << "/summary.csv)\n";
  return kExitOk;
}

}  // namespace modelgif::cli
