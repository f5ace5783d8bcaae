// The benchmark program: argv -> strings -> modelgif::cli::bench.
#include <iostream>
#include <string>
#include <vector>

#include "modelgif/cli.hpp"

int main(int argc, char** argv) {
  return modelgif::cli::bench(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
