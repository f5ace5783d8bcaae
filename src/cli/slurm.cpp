#include "cli/slurm.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <tuple>

#include "base/files.hpp"
#include "modelgif/error.hpp"
#include "slurm_script.inc"  // generated from slurm/modelgif.sbatch: kSlurmScriptText

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace modelgif::cli {

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
      "max-idle-starts", po::value(&r.max_idle_starts)->default_value(2),
      "requeue while starts finish new work; stop after this many starts in a row that finished nothing")(
      "launcher", po::value(&r.launcher)->default_value("auto"), "auto (srun --mpi=pmix, else mpirun), srun, mpirun")(
      "sbatch", po::value(&r.extra)->composing(), "extra sbatch option, e.g. --sbatch=--qos=long (repeatable)");
}

void check_resources(const Resources& r) {
  if (r.launcher != "auto" && r.launcher != "srun" && r.launcher != "mpirun")
    throw_usage("--launcher: expected auto, srun or mpirun, got '" + r.launcher + "'");
  if (r.signal_seconds < 1) throw_usage("--signal-seconds: must be >= 1, got " + std::to_string(r.signal_seconds));
  if (r.nodes < 1) throw_usage("--nodes: must be >= 1, got " + std::to_string(r.nodes));
  for (const auto& [name, value, min] : {std::tuple<const char*, int, int>{"--tasks-per-node", r.tasks_per_node, 0},
                                         {"--cpus-per-task", r.cpus_per_task, 0},
                                         {"--gpus-per-task", r.gpus_per_task, -1},
                                         {"--max-idle-starts", r.max_idle_starts, 1}})
    if (value < min)
      throw_usage(std::string(name) + ": must be >= " + std::to_string(min) + ", got " + std::to_string(value));
  // SLURM's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
  static const std::regex time(R"((\d+-)?\d+(:\d+){0,2})");
  const bool days = r.time.find('-') != std::string::npos;
  const auto colons = std::count(r.time.begin(), r.time.end(), ':');
  if (!std::regex_match(r.time, time) || (!days && colons > 2) || r.time.find_first_not_of("0:-") == std::string::npos)
    throw_usage("--time: expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (more than zero), got '" +
                r.time + "'");
  for (const auto& extra : r.extra)
    if (extra.rfind("--", 0) != 0)
      throw_usage("--sbatch: expected an sbatch option (--NAME=VALUE), got '" + extra + "'");
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
  if (r.gpus_per_task < 0) r.gpus_per_task = cfg.device.kind == DeviceSpec::Kind::Cuda ? 1 : 0;
  if (r.cpus_per_task <= 0) r.cpus_per_task = cfg.threads > 0 ? static_cast<int>(cfg.threads) : 1;
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

void write_script(const std::string& path) {
  ensure_parent_dir(path, "submit: the batch script " + path);
  write_text_atomic(path, kSlurmScriptText);
  std::error_code ec;
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add,
                  ec);
  if (ec) throw_input("submit: cannot make the batch script " + path + " executable: " + ec.message());
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

}  // namespace modelgif::cli
