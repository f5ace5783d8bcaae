// Subcommands implemented outside cli.cpp.
#pragma once

#include <boost/program_options.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace modelgif::cli {

// Parses a subcommand's arguments (no abbreviated options). With --help it
// prints `usage`, a blank line and the options, and returns false.
bool parse_command(const std::vector<std::string>& args, const boost::program_options::options_description& desc,
                   const boost::program_options::positional_options_description* positional,
                   const std::string& usage, std::ostream& out, boost::program_options::variables_map& vm);

int cmd_submit(const std::vector<std::string>& args, std::ostream& out);
int cmd_sweep(const std::vector<std::string>& args, std::ostream& out);
}  // namespace modelgif::cli
