// The dispatcher of `modelgif`: argv (as strings) to one subcommand, and every
// failure to one line and its exit code.
#include "modelgif/cli.hpp"

#include <c10/util/Exception.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

#include "base/allocator.hpp"
#include "cli/commands.hpp"
#include "modelgif/error.hpp"
#include "modelgif/version.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {
namespace {

struct Command {
  const char* name;
  int (*fn)(const Args&, std::ostream&);
  const char* summary;
};

// Every command, in the order the help lists them.
const Command kCommands[] = {
    {"run", cmd_run, "compute the fields of a model zoo and write distance matrices (HDF5)"},
    {"show", cmd_show, "print a result's distance matrices (table, csv, json, markdown) or draw its pictures"},
    {"status", cmd_status, "show a run's checkpoint: progress per model, fingerprint, what remains"},
    {"compare", cmd_compare, "check that two result files agree (distances and stored fields)"},
    {"eval", cmd_eval, "fingerprinting AUC, unlearning distances, task-relatedness Spearman"},
    {"zoo", cmd_zoo, "train a testbed zoo on Fashion-MNIST (cached; one model per MPI rank)"},
    {"submit", cmd_submit, "submit a run to SLURM (checkpoints and requeues itself on time limits)"},
    {"sweep", cmd_sweep, "submit a sweep as a SLURM job array, collect its results, list it"},
    {"demo", cmd_demo, "train (once, cached) the built-in Fashion-MNIST zoo and run on it"},
    {"config", cmd_config, "the configuration reference (every key), or check a config without running"},
};

std::string usage() {
  std::string u =
      "usage: modelgif <command> [options]\n"
      "\n"
      "ModelGiF: functional distances between neural networks from their gradient fields.\n"
      "\n"
      "commands:\n";
  for (const auto& c : kCommands) u += "  " + (std::string(c.name) + "        ").substr(0, 9) + c.summary + "\n";
  return u + "\n" +
         "options:\n"
         "  -h, --help  this help; 'modelgif <command> --help' for a command\n"
         "  --version   print the version, and the LibTorch it was built with\n"
         "\n"
         "exit codes: 0 ok, 1 internal error (a bug), 2 bad command line or config,\n"
         "            3 unusable model/reference/checkpoint/output file, 4 NaN/Inf in a field,\n"
         "            5 compare: the results differ, 6 demo: the check failed, 7 MPI failure,\n"
         "            75 stopped by SIGTERM/SIGUSR1 after checkpointing: rerun to resume\n";
}

}  // namespace

std::vector<std::string> command_names() {
  std::vector<std::string> names;
  for (const auto& c : kCommands) names.emplace_back(c.name);
  return names;
}

namespace {

// LibTorch's warnings (a model's own `warnings.warn`, deprecations) as one line
// each on stderr, once per text, instead of glog's two-line records repeated at
// every micro-batch.
class OneLineWarnings : public c10::WarningHandler {
 public:
#if TORCH_VERSION_MAJOR >= 2  // a c10::Warning since LibTorch 2.0
  void process(const c10::Warning& warning) override { emit(warning.msg()); }
#else
  void process(const c10::SourceLocation&, const std::string& msg, const bool) override { emit(msg); }
#endif

 private:
  void emit(const std::string& msg) {
    const std::string line = msg.substr(0, msg.find('\n'));
    const std::lock_guard<std::mutex> lock(mutex_);
    if (seen_.insert(line).second) std::cerr << "modelgif: warning: " << line << "\n" << std::flush;
  }
  std::mutex mutex_;
  std::set<std::string> seen_;
};

}  // namespace

int run(const Args& args, std::ostream& out, std::ostream& err) {
  keep_freed_memory();  // before the first tensor
  static OneLineWarnings warnings;
#if TORCH_VERSION_MAJOR >= 2  // moved to c10::WarningUtils in LibTorch 2.0
  c10::WarningUtils::set_warning_handler(&warnings);
#else
  c10::Warning::set_warning_handler(&warnings);
#endif
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      out << usage();
      return args.empty() ? kExitUsage : kExitOk;
    }
    if (args[0] == "--version") {
      // LibTorch, as built and as found here (help2man's man page shows it too).
      out << "modelgif " << kVersion << "\nLibTorch " << TORCH_VERSION << ", built "
          << (MODELGIF_TORCH_CUDA ? "with CUDA" : "without CUDA (CPU only)")
          << "; CUDA devices visible: " << torch::cuda::device_count() << "\n";
      return kExitOk;
    }
    const auto it =
        std::find_if(std::begin(kCommands), std::end(kCommands), [&](const Command& c) { return args[0] == c.name; });
    if (it == std::end(kCommands)) throw_usage("unknown command '" + args[0] + "' (try 'modelgif --help')");
    return it->fn(std::vector<std::string>(args.begin() + 1, args.end()), out);
  } catch (const po::error& e) {
    err << "modelgif: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (...) {
    return report_failure(std::current_exception(), "modelgif", err);
  }
}

}  // namespace modelgif::cli
