// Subcommands implemented outside cli.cpp.
#pragma once

#include <boost/program_options.hpp>

#include <exception>
#include <ostream>
#include <string>
#include <vector>

namespace modelgif::cli {

// Parses a subcommand's arguments (no abbreviated options). With --help it
// prints `usage`, a blank line and the options, and returns false.
bool parse_command(const std::vector<std::string>& args, const boost::program_options::options_description& desc,
                   const boost::program_options::positional_options_description* positional,
                   const std::string& usage, std::ostream& out, boost::program_options::variables_map& vm);

// Prints the one line of any exception (rank 0 alone for a shared error; a
// rank's own error aborts the MPI job) and returns its exit code.
int report_failure(const std::exception_ptr& error, const std::string& program, std::ostream& err);

int cmd_submit(const std::vector<std::string>& args, std::ostream& out);
int cmd_sweep(const std::vector<std::string>& args, std::ostream& out);
}  // namespace modelgif::cli
