#include "energy/energy_model.h"

#include <algorithm>
#include <stdexcept>

namespace attnsim {

Arith mac_accumulator(Arith product) { return product.fp ? product : Arith::integer(std::min(2 * product.bits, 64)); }

MacArith pe_array_mac_arith(const ArchConfig& arch) {
  const Arith mult = Arith::of(arch.pe_array.number_format);
  return {mult, mac_accumulator(mult)};
}

OperatorArea operator_area(const ArchConfig& arch) {
  const TechTable& t = arch.tech_table;
  const Arith prob = Arith::of(arch.pe_array.prob_format);
  OperatorArea a;
  a.exp = t.composite_um2(exp_unit(arch), prob);
  a.softmax_lane = a.exp + t.composite_um2(t.softmax_element, prob);
  a.divider = t.composite_um2(t.reciprocal, prob);
  a.comparator = t.add_um2(prob);
  a.index_adder = t.add_um2(Arith::integer(kIndexBits));
  return a;
}

double OperatorArea::mac(const TechTable& t, Arith product) {
  return t.mult_um2(product) + t.add_um2(mac_accumulator(product));
}

const Composite& exp_unit(const ArchConfig& arch) {
  return arch.pe_array.exp.table_bits() > 0 ? arch.tech_table.exp_pwl : arch.tech_table.exp_exact;
}

namespace {

const UnitChoice& unit_in(const ArchConfig& arch, const std::string& slot) {
  if (slot == "mask_unit") return arch.mask_unit;
  if (slot == "encoder") return arch.encoder;
  if (slot == "pe_array") return arch.pe_array;
  throw std::logic_error("energy: no unit slot '" + slot + "'");
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
  const Arith values = Arith::of(arch.pe_array.prob_format);  // softmax, normalisation, comparisons, additions
  const Composite& exp = exp_unit(arch);
  for (const auto& [slot, w] : period.units) {
    const UnitDescriptor& unit = *unit_in(arch, slot).unit;
    // A counter the unit reports but does not declare would silently cost
    // nothing: a renamed or forgotten counter is an error, not a zero.
    for (const auto& [name, n] : w.counts)
      if (std::find(kPricedCounters.begin(), kPricedCounters.end(), name) != kPricedCounters.end() &&
          std::find(unit.priced_counters.begin(), unit.priced_counters.end(), name) == unit.priced_counters.end())
        throw std::logic_error("energy: unit " + unit.name + " reports " + name + " but does not declare it priced");
    const std::optional<MacArith> mac = unit.mac_arith ? unit.mac_arith(arch) : std::nullopt;
    if (w.macs > 0 && !mac) throw std::logic_error("energy: unit " + unit.name + " does MACs but prices none");
    const std::map<std::string, double> ops = {
        {"mac", mac ? static_cast<double>(w.macs) * (t.mult_pj(mac->mult) + t.add_pj(mac->acc)) : 0.0},
        {"softmax", count_of(w, "softmax_elements") * (t.composite_pj(exp, values) + t.composite_pj(t.softmax_element, values))},
        {"normalise", count_of(w, "normalised_rows") * (t.composite_pj(t.reciprocal, values) + head_dim * t.mult_pj(values))},
        {"compare", count_of(w, "compare_ops") * t.add_pj(values)},  // a comparator costs an adder (own model)
        {"add", count_of(w, "add_ops") * t.add_pj(values)},
        {"index", count_of(w, "index_ops") * t.add_pj(index)}};
    for (const auto& [op, pj] : ops) {
      e.by_unit[slot] += pj;
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
  std::map<std::string, double> um2;
  for (const UnitChoice* u : arch.units()) {
    if (u->unit->area_um2) um2[slot_name(u->unit->slot)] = u->unit->area_um2(arch, t);
    else if (!u->none()) throw std::logic_error("no area model of " + u->kind());
  }
  for (const auto& [buffer, kib] : arch.memory.buffer_kib()) um2["sram_" + buffer] = kib * t.sram_um2_per_kib;

  AreaBreakdown a;
  for (const auto& [unit, v] : um2) {
    a.by_unit[unit] = v / 1e6;
    a.total_mm2 += v / 1e6;
  }
  return a;
}

}  // namespace attnsim
