// The modelgif program: argv -> strings -> modelgif::cli::run.
#include <iostream>
#include <string>
#include <vector>

#include "modelgif/cli.hpp"

int main(int argc, char** argv) {
  return modelgif::cli::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
