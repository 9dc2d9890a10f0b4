// The systolic_os PE array's registry entry: parameters, module, pricing.
#include "systolic/systolic_units.h"

#include "config/arch_config.h"
#include "energy/energy_model.h"
#include "systolic/systolic_array.h"
#include "systolic/systolic_cycle.h"

namespace attnsim {

const char* fold_drain_name(FoldDrain d) { return d == FoldDrain::after_fold ? "after_fold" : "in_skew"; }

const ParamTable<EstimationArrayConfig>& estimation_array_table() {
  static const auto t = [] {
    ParamTable<EstimationArrayConfig> t;
    t.integer("rows", &EstimationArrayConfig::rows, 1, 4096, "PEs", "array rows")
        .integer("cols", &EstimationArrayConfig::cols, 1, 4096, "PEs", "array columns");
    add_fold_drain(t, &EstimationArrayConfig::fold_drain);
    return t;
  }();
  return t;
}

const UnitDescriptor& systolic_os_unit() {
  static const UnitDescriptor d = [] {
    ParamTable<SystolicConfig> t;
    t.integer("rows", &SystolicConfig::rows, 1, 4096, "PEs", "array rows (query rows per fold)")
        .integer("cols", &SystolicConfig::cols, 1, 4096, "PEs", "array columns (keys per fold)");
    add_fold_drain(t, &SystolicConfig::fold_drain);
    t.integer("softmax_lanes", &SystolicConfig::softmax_lanes, 1, 4096, "per cycle", "softmax unit: scores per cycle")
        .integer("softmax_latency_cycles", &SystolicConfig::softmax_latency_cycles, 0, 1000, "cycles",
                 "softmax unit pipeline latency")
        .integer("divide_latency_cycles", &SystolicConfig::divide_latency_cycles, 0, 1000, "cycles",
                 "reciprocal latency of the output normalisation");
    UnitDescriptor u;
    u.slot = Slot::pe_array;
    u.name = "systolic_os";
    u.summary = "output-stationary systolic array: dense QKᵀ, softmax and PV folds, empty mask blocks skipped";
    u.caps.cycle_model = true;
    u.caps.structured_masks = true;
    describe_params(u, t);
    u.make_module = [](sc_core::sc_module_name name, const UnitBuild& b) -> std::unique_ptr<UnitModule> {
      const auto& c = b.arch.pe_array.get<SystolicConfig>();
      if (b.arch.fidelity == Fidelity::cycle) return std::make_unique<SystolicArrayCycle>(name, c, b.arch.clock_ghz);
      return std::make_unique<SystolicArray>(name, c, b.arch.clock_ghz);
    };
    u.key_block = [](const ArchConfig& a) { return a.pe_array.get<SystolicConfig>().cols; };
    u.softmax_lanes = [](const ArchConfig& a) { return a.pe_array.get<SystolicConfig>().softmax_lanes; };
    u.fill_rows = [](const ArchConfig& a) { return a.pe_array.get<SystolicConfig>().rows; };
    u.mac_arith = [](const ArchConfig& a) { return std::optional<MacArith>(pe_array_mac_arith(a)); };
    u.priced_counters = {"softmax_elements", "normalised_rows"};
    u.area_um2 = [](const ArchConfig& a, const TechTable& t) {
      const auto& c = a.pe_array.get<SystolicConfig>();
      const OperatorArea o = operator_area(a);
      return static_cast<double>(c.rows) * c.cols * OperatorArea::mac(t, Arith::of(a.pe_array.number_format)) +
             c.softmax_lanes * o.softmax_lane + o.divider;
    };
    return u;
  }();
  return d;
}

}  // namespace attnsim
