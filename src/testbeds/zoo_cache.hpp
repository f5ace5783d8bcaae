// Shared by the testbed zoos (testbed.cpp: fingerprinting and unlearning;
// relatedness.cpp: task relatedness). Not part of the public headers.
#pragma once

#include <chrono>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "modelgif/comm.hpp"
#include "testbeds/testbed.hpp"

namespace modelgif {

constexpr double kFashionMean = 0.2860, kFashionStd = 0.3530;  // the zoos' input normalization

// "12 s": the whole seconds since t0, for the zoos' progress lines.
std::string seconds_since(std::chrono::steady_clock::time_point t0);

// Throws a shared InputError (exit 3) naming `folder` and the missing file when
// Fashion-MNIST is not there; every rank checks, rank 0 reports.
void require_fashion(const std::string& folder);

// DIR/models, emptied (on rank 0) when the config or the recipes changed since
// it was filled; every rank returns after it is ready.
std::filesystem::path prepare_zoo_dir(const TestbedConfig& cfg, const comm::Comm& world, std::ostream& out);

// DIR/run.yaml: the zoo `names` (DIR/models/NAME.pt) on `cfg.references` random
// test images, with `field` ("target: ...", more keys allowed) and a zero baseline.
void write_run_config(const TestbedConfig& cfg, const std::vector<std::string>& names,
                      const std::filesystem::path& models, const std::string& field, bool store_fields);

// The commands that use a zoo's DIR/run.yaml and DIR/roles.yaml.
void print_next_steps(const std::filesystem::path& dir, std::ostream& out);

// The task-relatedness zoo: one encoder per task, then the transfer affinity.
int run_relatedness_zoo(const TestbedConfig& cfg, const std::filesystem::path& models, std::ostream& out);

}  // namespace modelgif
