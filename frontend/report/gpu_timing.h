#pragma once
// `attnsim run --gpu-timing FILE`: a measured GPU time attached to a report.
// FILE is a gpu_ref meta.json ("format": "attnsim-gpu") or a small timing
// JSON {"gpu", "time_us", "path", "layers", "heads", "seq_len", "head_dim",
// optional "workload", "batch", "what"} (gpu_ref/timings/*.json). The timing
// must describe the run it is attached to: its workload's shapes, layers and
// algorithm are checked, so no speedup is ever printed for a different run.
#include <nlohmann/json.hpp>
#include <string>

#include "workload/workload.h"

namespace attnsim {

struct GpuTiming {
  nlohmann::json report;  // the report's "gpu" object: {"name", "time_us", "source"}
  // What the timing covers (from the file; absent fields are empty / 0).
  std::string algorithm;  // attnsim's algorithm name: dense, sanger, spatten_pruner, pattern_detector, ...
  std::string workload;   // the workload file's stem (timing JSON) or the workload's name (meta.json)
  bool workload_is_name = false;
  int64_t layers = 0, heads = 0, batch = 0, seq_len = 0, head_dim = 0;
};

// Parses FILE; InputError naming the file and field on anything missing or malformed.
GpuTiming read_gpu_timing(const std::string& file);

// Throws InputError naming FILE and the first field that differs from the run
// (algorithm as simulation.cpp's dump_meta names it, workload shapes, simulated layers).
void check_gpu_timing(const GpuTiming& t, const std::string& file, const std::string& algorithm,
                      const WorkloadSpec& workload);

}  // namespace attnsim
