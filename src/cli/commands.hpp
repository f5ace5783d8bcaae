// The subcommands of `modelgif` (one file each) and what they share: option
// parsing, the run options that `run` and `submit` both take, failure reports.
#pragma once

#include <boost/program_options.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "analysis/pictures.hpp"
#include "inputs/command_line.hpp"
#include "modelgif/comm.hpp"
#include "modelgif/config.hpp"
#include "modelgif/pipeline.hpp"

namespace modelgif::cli {

using Args = std::vector<std::string>;

// Each subcommand parses its arguments with parse_command
// (inputs/command_line.hpp) and its failures are reported by
// comm::report_failure, as modelgif-bench's are.
using comm::report_failure;

// The options of `modelgif run`: --config, --zoo NAME=PATH, --recompute and
// every config key as --KEY VALUE. `submit` validates its run options with the
// same parser.
struct RunArgs {
  std::string config;  // "" when not given
  std::vector<std::pair<std::string, std::string>> overrides;
  std::vector<std::string> zoo;
  bool recompute = false;
  std::string report;  // --report FILE ("" when not given)
};
boost::program_options::options_description run_options();
RunArgs run_args_of(const boost::program_options::variables_map& vm);
// The run config: rank 0 reads the file and broadcasts its text, every rank
// parses it (an error in it is shared: rank 0 reports).
RunConfig load_run_config(const RunArgs& args);

// The picture options `show` and `eval` share: --order tree|zoo and --png.
struct PictureArgs {
  std::string order = "tree";
  bool png = false;
};
void add_picture_options(boost::program_options::options_description& desc, PictureArgs& args);
PictureOptions picture_options_of(const PictureArgs& args, const std::string& folder);
// Prints "pictures: A, B, ..." (one line).
void print_pictures(std::ostream& out, const std::vector<std::string>& paths);
// After a run (rank 0): the pictures of its result when output.pictures is on.
void write_run_pictures(const RunConfig& cfg, const RunSummary& summary, std::ostream& out);

int cmd_run(const Args& args, std::ostream& out);
int cmd_show(const Args& args, std::ostream& out);
int cmd_status(const Args& args, std::ostream& out);
int cmd_compare(const Args& args, std::ostream& out);
int cmd_eval(const Args& args, std::ostream& out);
int cmd_zoo(const Args& args, std::ostream& out);
int cmd_submit(const Args& args, std::ostream& out);
int cmd_sweep(const Args& args, std::ostream& out);
int cmd_demo(const Args& args, std::ostream& out);
int cmd_config(const Args& args, std::ostream& out);

}  // namespace modelgif::cli
