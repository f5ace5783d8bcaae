// SLURM submission, shared by `submit` and `sweep`: the resources a job asks
// for, the batch script built into the program, and sbatch itself.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "modelgif/config.hpp"

namespace modelgif::cli {

struct Resources {
  int nodes = 1, tasks_per_node = 0, gpus_per_task = -1, cpus_per_task = 0, max_idle_starts = 2, signal_seconds = 120;
  std::string time = "01:00:00", partition, account, launcher = "auto";
  std::vector<std::string> extra;
};
void add_resource_options(boost::program_options::options_description& desc, Resources& r);
// Refuses, naming the option, what sbatch or the batch script would only
// refuse later: --launcher outside auto/srun/mpirun, a non-positive
// --signal-seconds, a --time SLURM cannot read, negative counts.
void check_resources(const Resources& r);

// Shell quoting (single quotes) where a word needs it.
std::string quote(const std::string& s);
std::string join(const std::vector<std::string>& words);
// This program's own path (for the job to run the same binary).
std::string self_path();

// The sbatch options of a run with config `cfg`; resources not given come
// from the config (ranks per node min(models x blocks, 4), one GPU per rank
// when run.device is cuda, run.threads cores per rank).
std::vector<std::string> sbatch_options(const RunConfig& cfg, Resources r, const std::string& name,
                                        const std::string& log);
// Writes the built-in batch script (slurm/modelgif.sbatch) to `path`, executable.
void write_script(const std::string& path);
// Runs sbatch --parsable; returns the job id. InputError with sbatch's last line when it fails.
std::string sbatch(const std::vector<std::string>& args);

}  // namespace modelgif::cli
