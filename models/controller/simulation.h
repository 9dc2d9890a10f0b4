#pragma once
// One simulation: elaborates the units the arch names around a controller,
// runs the SystemC kernel once, and returns the counters. SystemC elaborates
// once per process, so call this at most once per process.
#include <string>

#include "config/arch_config.h"
#include "controller/controller.h"
#include "report/run_stats.h"
#include "workload/workload.h"

namespace attnsim {

struct SimulationOptions {
  std::string dump_dir;            // empty: no dump
  Controller::Progress progress;   // may be empty
};

RunStats simulate(const ArchConfig& arch, const WorkloadSpec& workload, const SimulationOptions& options);

// Meta-data describing the algorithm of a dump (docs/dump_format.md).
nlohmann::json dump_meta(const ArchConfig& arch, const WorkloadSpec& workload);

}  // namespace attnsim
