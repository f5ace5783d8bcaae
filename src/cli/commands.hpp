// Subcommands implemented outside cli.cpp.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace modelgif::cli {
int cmd_submit(const std::vector<std::string>& args, std::ostream& out);
int cmd_sweep(const std::vector<std::string>& args, std::ostream& out);
}  // namespace modelgif::cli
