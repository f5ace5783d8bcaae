// A program's command line: the one option parser of modelgif's subcommands
// and of modelgif-bench, so that both refuse a wrong word alike.
#pragma once

#include <boost/program_options.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace modelgif {

// Parses a command's arguments (no abbreviated options; --key=value and
// --key value alike). An unknown option is a UsageError naming the nearest
// known one; a stray word is a UsageError naming it. With --help it prints
// `usage`, a blank line and the options, and returns false.
bool parse_command(const std::vector<std::string>& args, const boost::program_options::options_description& desc,
                   const boost::program_options::positional_options_description* positional, const std::string& usage,
                   std::ostream& out, boost::program_options::variables_map& vm);

}  // namespace modelgif
