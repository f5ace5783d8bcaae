// The modelgif command line. main() only turns argv into strings and calls
// cli::run, so every command, its help and its errors are testable in-process.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace modelgif::cli {

// args excludes the program name. Returns the process exit code; prints one
// line "modelgif: error: ..." to `err` on failure.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The commands `run` knows, in the order its help lists them.
std::vector<std::string> command_names();

}  // namespace modelgif::cli
