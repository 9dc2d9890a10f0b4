#include "energy/energy_model.h"

#include <algorithm>
#include <stdexcept>

namespace attnsim {

namespace {

// Own model: an integer MAC accumulates its 2w-bit products at 2w bits (the
// product's width); a float MAC accumulates in its own format.
Arith accumulator(Arith product) { return product.fp ? product : Arith::integer(std::min(2 * product.bits, 64)); }

// Own model: the Sanger predictor's b-bit products are summed at 2b + 8 bits
// (no overflow for up to 256 products, i.e. head_dim <= 256).
Arith predictor_accumulator(int bits) { return Arith::integer(2 * bits + 8); }

// Own model: the DynamiQK detector estimates with 16-bit operands (as its
// SRAM traffic assumes).
constexpr int kDetectorBits = 16;
// Own model: index arithmetic (column indices, segment offsets) at 16 bits.
constexpr int kIndexBits = 16;

// How one unit's operations are priced.
struct Pricing {
  Arith mac_mult = Arith::integer(16), mac_acc = Arith::integer(32);
  Arith values;  // softmax, normalisation, comparisons and additions: the PE array's probability format
  const Composite* exp = nullptr;
};

const Composite& exp_unit(const ArchConfig& arch) {
  return arch.pe_array.exp.table_bits() > 0 ? arch.tech_table.exp_pwl : arch.tech_table.exp_exact;
}

Pricing pricing_of(const ArchConfig& arch, const std::string& unit) {
  Pricing p;
  p.values = Arith::of(arch.pe_array.prob_format);
  p.exp = &exp_unit(arch);
  if (unit == "pe_array") {
    p.mac_mult = Arith::of(arch.pe_array.number_format);
    p.mac_acc = accumulator(p.mac_mult);
  } else if (unit == "mask_unit" && arch.mask_unit.kind == "sanger_predictor") {
    p.mac_mult = Arith::integer(arch.mask_unit.bits);
    p.mac_acc = predictor_accumulator(arch.mask_unit.bits);
  } else {  // the DynamiQK detector's estimation array; units without MACs never use it
    p.mac_mult = Arith::integer(kDetectorBits);
    p.mac_acc = accumulator(p.mac_mult);
  }
  return p;
}

double count_of(const UnitWork& w, const char* key) {
  const auto it = w.counts.find(key);
  return it == w.counts.end() ? 0.0 : static_cast<double>(it->second);
}

}  // namespace

nlohmann::json EnergyBreakdown::to_json(const std::string& tech) const {
  return {{"total_pj", total_pj}, {"by_unit", by_unit}, {"by_operation", by_operation}, {"tech", tech}};
}

nlohmann::json AreaBreakdown::to_json(const std::string& tech) const {
  return {{"total_mm2", total_mm2}, {"by_unit", by_unit}, {"tech", tech}};
}

EnergyBreakdown estimate_energy(const ArchConfig& arch, const PeriodStats& period, int head_dim) {
  const TechTable& t = arch.tech_table;
  EnergyBreakdown e;
  const Arith index = Arith::integer(kIndexBits);
  for (const auto& [unit, w] : period.units) {
    const Pricing p = pricing_of(arch, unit);
    const std::map<std::string, double> ops = {
        {"mac", static_cast<double>(w.macs) * (t.mult_pj(p.mac_mult) + t.add_pj(p.mac_acc))},
        {"softmax", count_of(w, "softmax_elements") *
                        (t.composite_pj(*p.exp, p.values) + t.composite_pj(t.softmax_element, p.values))},
        {"normalise", count_of(w, "normalised_rows") *
                          (t.composite_pj(t.reciprocal, p.values) + head_dim * t.mult_pj(p.values))},
        {"compare", count_of(w, "compare_ops") * t.add_pj(p.values)},  // a comparator costs an adder (own model)
        {"add", count_of(w, "add_ops") * t.add_pj(p.values)},
        {"index", count_of(w, "index_ops") * t.add_pj(index)}};
    for (const auto& [op, pj] : ops) {
      e.by_unit[unit] += pj;
      e.by_operation[op] += pj;
    }
  }
  // Reads and writes cost the same per byte: a 64-bit access of a buffer of
  // that capacity, per 8 bytes.
  for (const auto& [buffer, b] : period.sram) {
    const int64_t bytes = b.bytes_read + b.bytes_written;
    if (bytes == 0) continue;
    if (b.capacity_bytes <= 0) throw std::logic_error("SRAM buffer " + buffer + " has no capacity");
    const double pj = static_cast<double>(bytes) * t.sram_pj_per_byte(static_cast<double>(b.capacity_bytes) / 1024.0);
    e.by_unit["sram_" + buffer] = pj;
    e.by_operation["sram"] += pj;
  }
  const double dram = static_cast<double>(period.dram_bytes_read + period.dram_bytes_written) * t.dram_pj_per_byte();
  e.by_unit["dram"] = dram;
  e.by_operation["dram"] = dram;
  for (const auto& [unit, pj] : e.by_unit) e.total_pj += pj;
  return e;
}

AreaBreakdown estimate_area(const ArchConfig& arch) {
  const TechTable& t = arch.tech_table;
  const PeArrayConfig& pe = arch.pe_array;
  const MaskUnitConfig& mu = arch.mask_unit;
  const Arith data = Arith::of(pe.number_format), prob = Arith::of(pe.prob_format);
  const Arith index = Arith::integer(kIndexBits);
  auto mac = [&](Arith product) { return t.mult_um2(product) + t.add_um2(accumulator(product)); };
  const double exp = t.composite_um2(exp_unit(arch), prob);
  const double softmax_lane = exp + t.composite_um2(t.softmax_element, prob);
  const double divider = t.composite_um2(t.reciprocal, prob);
  const double comparator = t.add_um2(prob), index_adder = t.add_um2(index);

  std::map<std::string, double> um2;
  if (pe.kind == "score_stationary") {
    // Sanger: every PE has a MAC and an exp unit; each row one divider.
    um2["pe_array"] = static_cast<double>(pe.rows) * pe.pes_per_row * (mac(data) + exp) + pe.rows * divider;
  } else if (pe.kind == "systolic_os") {
    um2["pe_array"] = static_cast<double>(pe.rows) * pe.cols * mac(data) + pe.softmax_lanes * softmax_lane + divider;
  } else if (pe.kind == "spatten_datapath") {
    // QK and AV multiplier arrays with their adder trees, softmax lanes, the
    // local-V top-k engine's comparators.
    um2["pe_array"] = static_cast<double>(pe.qk_multipliers + pe.av_multipliers) * mac(data) +
                      pe.softmax_lanes * softmax_lane + pe.topk_parallelism * comparator + divider;
  } else {
    throw std::logic_error("no area model of PE array " + pe.kind);
  }

  if (mu.kind == "sanger_predictor") {
    const Arith b = Arith::integer(mu.bits);
    um2["mask_unit"] = static_cast<double>(mu.array_rows) * mu.array_cols *
                           (t.mult_um2(b) + t.add_um2(predictor_accumulator(mu.bits))) +
                       mu.softmax_lanes * (softmax_lane + comparator);
  } else if (mu.kind == "pattern_detector") {
    // Estimation array, softmax lanes, column/diagonal sum adders (two per
    // lane), the top-k engine, and the index-merging and mask-emitting lanes.
    um2["mask_unit"] = static_cast<double>(mu.array_rows) * mu.array_cols * mac(Arith::integer(kDetectorBits)) +
                       mu.softmax_lanes * (softmax_lane + 2 * comparator) + mu.topk_parallelism * comparator +
                       (mu.index_lanes + mu.emit_lanes) * index_adder;
  } else if (mu.kind == "spatten_pruner") {
    // The top-k engine's comparators and one importance accumulator per
    // softmax lane of the array whose probabilities it sums.
    um2["mask_unit"] = mu.topk_parallelism * comparator + pe.softmax_lanes * comparator;
  } else if (mu.kind == "static_pattern") {
    um2["mask_unit"] = mu.emit_lanes * index_adder;
  }
  if (arch.encoder.kind == "pack_split")  // one index adder per mask bit of the segments handled per cycle
    um2["encoder"] = static_cast<double>(arch.encoder.segment_width) * arch.encoder.segments_per_cycle * index_adder;
  for (const auto& [buffer, kib] : arch.memory.buffer_kib()) um2["sram_" + buffer] = kib * t.sram_um2_per_kib;

  AreaBreakdown a;
  for (const auto& [unit, v] : um2) {
    a.by_unit[unit] = v / 1e6;
    a.total_mm2 += v / 1e6;
  }
  return a;
}

}  // namespace attnsim
