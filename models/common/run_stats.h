#pragma once
// Counters of a simulation, per layer and in total: plain data that the
// timing models fill in and the report serialises.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/metrics.h"

namespace attnsim {

using Cycles = int64_t;

// What a unit did for one job, or summed over many.
struct UnitWork {
  Cycles cycles = 0;                      // latency (busy cycles)
  std::map<std::string, Cycles> stages;   // its breakdown (sums to cycles)
  std::map<std::string, int64_t> counts;  // events worth reporting (passes, bubbles, ...)
  int64_t macs = 0;                       // multiply-accumulates done
  int64_t pe_slots = 0;                   // PE-cycles available while computing
  std::map<std::string, int64_t> sram_read_bytes;  // by buffer: q, k, v, score, output
  std::map<std::string, int64_t> sram_write_bytes;
  void merge(const UnitWork& o);
};

struct BufferStats {
  int64_t capacity_bytes = 0, bytes_read = 0, bytes_written = 0, bytes_spilled = 0;
  void merge(const BufferStats& o);
};

// One layer, or the whole run.
struct PeriodStats {
  Cycles cycles = 0;
  std::map<std::string, UnitWork> units;  // mask_unit, encoder, pe_array
  Cycles dram_busy_cycles = 0;
  int64_t dram_bytes_read = 0, dram_bytes_written = 0, dram_bursts = 0;
  int64_t dram_bytes_dense = 0;  // what the same tiles would move with no mask, pruning or reduced precision
  std::map<std::string, BufferStats> sram;
  int64_t dense_macs = 0;  // MACs of dense (or causal) attention for the same work
  AccuracyStats accuracy;
  nlohmann::json heads = nlohmann::json::array();  // per-head facts from the mask unit (layers only)
  void merge(const PeriodStats& o);
};

struct RunStats {
  std::map<std::string, std::string> unit_kinds;  // unit -> kind from the arch
  std::map<std::string, int64_t> unit_pes;        // unit -> multipliers
  int query_rows = 0;                             // the tile height actually used
  int pes_per_row = 0;                            // score-stationary array, for pack_split_utilisation
  bool kv_resident = false;                       // K and V of a head fit on chip
  std::vector<PeriodStats> layers;
  PeriodStats total;
  int64_t host_macs = 0;  // MACs the host evaluated for the numerics
};

}  // namespace attnsim
