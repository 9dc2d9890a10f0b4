#pragma once
// Energy of a run and area of an architecture, from the operation and byte
// counters the units report and the arch's unit counts, priced by the arch's
// technology table (docs/model_notes.md, "Energy and area"). Dynamic energy
// only: leakage is not modelled.
//
// Operation counters a unit may report in UnitWork::counts (besides `macs`):
//   softmax_elements  probabilities evaluated (an exp plus the softmax_element ops)
//   normalised_rows   output rows divided by their exp sum (a reciprocal, head_dim mults)
//   compare_ops       value comparisons (thresholds, top-k, candidate selection)
//   add_ops           value additions outside MACs (importance and score sums, pooling)
//   index_ops         index arithmetic (pack-and-split, mask emission, sparse layouts)
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "config/arch_config.h"
#include "common/run_stats.h"

namespace attnsim {

struct EnergyBreakdown {
  double total_pj = 0;
  std::map<std::string, double> by_unit;       // mask_unit, encoder, pe_array, sram_<buffer>, dram
  std::map<std::string, double> by_operation;  // mac, softmax, normalise, compare, add, index, sram, dram
  nlohmann::json to_json(const std::string& tech) const;
};

struct AreaBreakdown {
  double total_mm2 = 0;
  std::map<std::string, double> by_unit;  // mask_unit, encoder, pe_array, sram_<buffer>
  nlohmann::json to_json(const std::string& tech) const;
};

// Energy of one period (a layer or the whole run).
EnergyBreakdown estimate_energy(const ArchConfig& arch, const PeriodStats& period, int head_dim);

// On-chip area of the arch: operators and SRAM (no wiring, registers or control).
AreaBreakdown estimate_area(const ArchConfig& arch);

}  // namespace attnsim
