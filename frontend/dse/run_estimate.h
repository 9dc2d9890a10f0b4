#pragma once
// Up-front estimate of one `attnsim run`: host CPU time, peak memory and the
// size of a --dump, from the workload's shapes and the arch's tiling, so that
// a run that cannot finish on this machine is refused before it starts
// instead of dying of bad_alloc hours later (docs/data_safety.md).
#include <cstdint>
#include <string>

#include "config/arch_config.h"
#include "workload/workload.h"

namespace attnsim {

struct RunEstimate {
  double macs = 0;          // dense-equivalent multiply-adds the functional model computes
  double cpu_s = 0;         // at kEstimateMacsPerSecond
  double memory_bytes = 0;  // peak resident
  double dump_bytes = 0;    // upper bound (every entry kept)
};

// Own model, calibrated on this project's CI-class machine (docs/data_safety.md):
// 2.1e9-3.4e9 dense-equivalent MACs per second across the presets, so 1e9 errs long by 2-3x.
constexpr double kEstimateMacsPerSecond = 1e9;
constexpr double kEstimateCpuLimitS = 24 * 3600.0;  // a day of CPU time

// accuracy_rows: the run's --accuracy-rows (0: every row).
RunEstimate estimate_run(const ArchConfig& arch, const WorkloadSpec& workload, bool dump, int accuracy_rows = 0);

// InputError naming the workload file and its size fields when the estimate
// exceeds this machine's memory, a day of CPU time, or (with a dump) the free
// space where the dump goes. `override_flag` is named in the message.
void check_run_estimate(const RunEstimate& e, const WorkloadSpec& workload, const std::string& dump_dir,
                        const std::string& override_flag);

}  // namespace attnsim
