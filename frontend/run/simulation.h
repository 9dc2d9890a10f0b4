#pragma once
// One simulation: elaborates the units the arch names around a controller
// (models/controller/top.h) with the front end's observers (the accuracy
// check, the dump, the functional cache), runs the SystemC kernel once, and
// returns the counters. SystemC elaborates once per process, so call this at
// most once per process.
#include <string>

#include "config/arch_config.h"
#include "controller/controller.h"
#include "dse/functional_cache.h"
#include "common/run_stats.h"
#include "workload/workload.h"

namespace attnsim {

struct SimulationOptions {
  std::string dump_dir;            // empty: no dump
  Controller::Progress progress;   // may be empty
  std::string functional_cache_dir; // empty: no reuse across runs
  int accuracy_rows = 0;            // rows per head compared with dense attention (0: all)
  int threads = 1;                  // heads prepared in parallel (controller/head_prefetch.h); reports do not depend on it
  bool structured_masks = true;     // tiles' masks as TileShapes where possible (same numbers); false: always CSR
};

// What a run reused (for sweeps' reuse accounting).
struct SimulationInfo {
  int64_t cache_hits = 0;   // heads whose functional results came from the cache
  int64_t structured_tiles = 0;  // tiles whose mask came as a TileShape
  std::string cache_key;
  std::vector<std::string> cache_damaged;  // entries that failed their checks and were recomputed
};

RunStats simulate(const ArchConfig& arch, const WorkloadSpec& workload, const SimulationOptions& options,
                  SimulationInfo* info = nullptr);

// Meta-data describing the algorithm of a dump (docs/dump_format.md).
nlohmann::json dump_meta(const ArchConfig& arch, const WorkloadSpec& workload);

}  // namespace attnsim
