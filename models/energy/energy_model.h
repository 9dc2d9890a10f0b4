#pragma once
// Energy of a run and area of an architecture, from the operation and byte
// counters the units report and the arch's unit counts, priced by the arch's
// technology table (docs/model_notes.md, "Energy and area"). Dynamic energy
// only: leakage is not modelled.
//
// Operation counters a unit may report in UnitWork::counts (besides `macs`)
// and must declare in its descriptor's priced_counters (common/unit.h):
//   softmax_elements  probabilities evaluated (an exp plus the softmax_element ops)
//   normalised_rows   output rows divided by their exp sum (a reciprocal, head_dim mults)
//   compare_ops       value comparisons (thresholds, top-k, candidate selection)
//   add_ops           value additions outside MACs (importance and score sums, pooling)
//   index_ops         index arithmetic (pack-and-split, mask emission, sparse layouts)
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "config/arch_config.h"
#include "common/run_stats.h"

namespace attnsim {

inline constexpr std::array<const char*, 5> kPricedCounters = {"softmax_elements", "normalised_rows", "compare_ops",
                                                               "add_ops", "index_ops"};

// Pricing pieces the units' descriptors share (own model):
// an integer MAC accumulates its 2w-bit products at 2w bits (the product's
// width); a float MAC accumulates in its own format.
Arith mac_accumulator(Arith product);
// The PE array's MACs: its number format.
MacArith pe_array_mac_arith(const ArchConfig& arch);
// Index arithmetic (column indices, segment offsets) at 16 bits.
inline constexpr int kIndexBits = 16;
// The exp unit the arch's pe_array.exp asks for.
const Composite& exp_unit(const ArchConfig& arch);
// Area of the operators units are built from, at the PE array's probability
// format (a comparator costs an adder).
struct OperatorArea {
  double exp = 0, softmax_lane = 0, divider = 0, comparator = 0, index_adder = 0;
  static double mac(const TechTable& t, Arith product);  // multiplier and its accumulator
};
OperatorArea operator_area(const ArchConfig& arch);

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
