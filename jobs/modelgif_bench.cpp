// The benchmark program: argv -> strings -> modelgif::bench::run.
#include <iostream>
#include <string>
#include <vector>

#include "modelgif/bench.hpp"

int main(int argc, char** argv) {
  return modelgif::bench::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
