// The SpAtten block's registry entries (HPCA'21, docs/spatten.md): the
// cascade pruner and the datapath.
#include "spatten/spatten_units.h"

#include "config/arch_config.h"
#include "energy/energy_model.h"
#include "spatten/spatten_config.h"
#include "spatten/spatten_datapath.h"
#include "spatten/spatten_pruner.h"
#include "util/error.h"

namespace attnsim {

namespace {

const std::vector<std::pair<std::string, TopKPivot>> kPivots = {{"random", TopKPivot::random},
                                                                {"middle", TopKPivot::middle}};

const ParamTable<KeepSchedule>& keep_schedule_table() {
  static const auto t =
      ParamTable<KeepSchedule>()
          .number("start_fraction", &KeepSchedule::start_fraction, 0.0, 1.0, "",
                  "share of the layers before pruning starts")
          .number("final_keep", &KeepSchedule::final_keep, 0.0, 1.0, "", "share kept at the last layer (linear ramp)")
          .custom({"per_layer", "list of numbers 0 … 1", "", "", "", "explicit keep share per layer (overrides the ramp)"},
                  [](JsonReader& o, KeepSchedule& s) {
                    if (!o.has("per_layer")) return;
                    const auto& list = o.raw("per_layer");
                    if (!list.is_array() || list.empty()) o.fail("per_layer", "expected a non-empty array of keep fractions");
                    for (const auto& x : list) {
                      if (!x.is_number() || x.get<double>() < 0 || x.get<double>() > 1)
                        o.fail("per_layer", "expected numbers from 0 to 1, got " + x.dump());
                      s.explicit_keep.push_back(x.get<double>());
                    }
                  },
                  [](const KeepSchedule& s, nlohmann::json& j) {
                    if (!s.explicit_keep.empty()) j["per_layer"] = s.explicit_keep;
                  });
  return t;
}

}  // namespace

const UnitDescriptor& spatten_pruner_unit() {
  static const UnitDescriptor d = [] {
    using C = SpattenPrunerConfig;
    ParamTable<C> t;
    t.object("token_keep", &C::token_keep, keep_schedule_table())
        .object("head_keep", &C::head_keep, keep_schedule_table())
        .integer("topk_parallelism", &C::topk_parallelism, 1, 4096, "comparators", "the top-k engine's comparators (P)")
        .choice("topk_pivot", &C::topk_pivot, kPivots, "quick-select pivot rule (timing only)");
    UnitDescriptor u;
    u.slot = Slot::mask_unit;
    u.name = "spatten_pruner";
    u.summary = "SpAtten's cascade token and head pruning: a top-k engine keeps the most important tokens and heads";
    // Its timing depends on values the functional cache does not keep
    // (importance scores), so its runs always compute.
    u.caps.cacheable = false;
    u.caps.learns = true;
    u.caps.dumps_pruning = true;
    u.caps.gpu_algorithm = "spatten_pruner";
    describe_params(u, t);
    u.make_module = [](sc_core::sc_module_name name, const UnitBuild& b) -> std::unique_ptr<UnitModule> {
      return std::make_unique<SpattenPruner>(name, b.arch.mask_unit.get<C>(), b.workload, b.arch.clock_ghz,
                                             b.arch.fidelity == Fidelity::cycle);
    };
    u.priced_counters = {"compare_ops", "add_ops"};
    // The top-k engine's comparators and one importance accumulator per
    // softmax lane of the array whose probabilities it sums.
    u.area_um2 = [](const ArchConfig& a, const TechTable&) {
      const OperatorArea o = operator_area(a);
      return a.mask_unit.get<C>().topk_parallelism * o.comparator + a.pe_array.unit->softmax_lanes(a) * o.comparator;
    };
    u.dump_params = [](const ArchConfig& a, const WorkloadSpec& w, nlohmann::json& p) {
      nlohmann::json m = a.to_json()["mask_unit"];
      m.erase("topk_pivot");  // timing only: changes no value the GPU recomputes
      p["mask_unit"] = m;
      p["model_layers"] = w.layers;  // the keep schedules span the model's layers
    };
    return u;
  }();
  return d;
}

const UnitDescriptor& spatten_datapath_unit() {
  static const UnitDescriptor d = [] {
    using C = SpattenDatapathConfig;
    ParamTable<C> t;
    t.integer("qk_multipliers", &C::qk_multipliers, 1, 1 << 20, "multipliers", "the QK module's broadcast-reduce array")
        .integer("av_multipliers", &C::av_multipliers, 1, 1 << 20, "multipliers", "the AV module's array")
        .integer("softmax_lanes", &C::softmax_lanes, 1, 4096, "per cycle", "softmax: keys per cycle")
        .integer("msb_bits", &C::msb_bits, 1, 32, "bits", "progressive quantisation: bits fetched first")
        .number("requant_threshold", &C::requant_threshold, 0.0, 1.0, "",
                "τ: a row whose largest MSB-only probability is below it is recomputed with all bits")
        .number("v_keep", &C::v_keep, 0.0, 1.0, "", "local V pruning: share of each row's V rows used")
        .integer("topk_parallelism", &C::topk_parallelism, 1, 4096, "comparators", "local V pruning's top-k engine")
        .choice("topk_pivot", &C::topk_pivot, kPivots, "its quick-select pivot rule (timing only)")
        .integer("pipeline_latency_cycles", &C::pipeline_latency_cycles, 0, 100000, "cycles",
                 "pipeline fill and drain (11 + 88 + 5, SpAtten's bert.cpp)")
        .choice("drain", &C::drain_per_layer, {{"per_layer", true}, {"per_tile", false}},
                "fill and drain paid once per layer (SpAtten's behavioural model) or per query tile");
    UnitDescriptor u;
    u.slot = Slot::pe_array;
    u.name = "spatten_datapath";
    u.summary = "SpAtten's datapath: QK and AV multiplier arrays, progressive quantisation, local V pruning";
    u.caps.cacheable = false;  // requantised rows depend on values the cache does not keep
    describe_params(u, t);
    u.check = [](const ArchConfig& a, const std::string& file) {
      if (a.pe_array.get<C>().msb_bits > a.pe_array.number_format.width)
        throw InputError(file, "pe_array.msb_bits", "exceeds the number format's width (" +
                                                        std::to_string(a.pe_array.number_format.width) + ")");
    };
    u.make_module = [](sc_core::sc_module_name name, const UnitBuild& b) -> std::unique_ptr<UnitModule> {
      return std::make_unique<SpattenDatapath>(name, b.arch.pe_array.get<C>(), b.arch.clock_ghz);
    };
    u.softmax_lanes = [](const ArchConfig& a) { return a.pe_array.get<C>().softmax_lanes; };
    // Own choice: keys are fetched in blocks of 64 when K and V do not stay on chip.
    u.key_block = [](const ArchConfig&) { return 64; };
    u.mac_arith = [](const ArchConfig& a) { return std::optional<MacArith>(pe_array_mac_arith(a)); };
    u.priced_counters = {"softmax_elements", "normalised_rows", "compare_ops"};
    // QK and AV multiplier arrays with their adder trees, softmax lanes, the
    // local-V top-k engine's comparators.
    u.area_um2 = [](const ArchConfig& a, const TechTable& t) {
      const auto& c = a.pe_array.get<C>();
      const OperatorArea o = operator_area(a);
      return static_cast<double>(c.qk_multipliers + c.av_multipliers) * OperatorArea::mac(t, Arith::of(a.pe_array.number_format)) +
             c.softmax_lanes * o.softmax_lane + c.topk_parallelism * o.comparator + o.divider;
    };
    u.dump_params = [](const ArchConfig& a, const WorkloadSpec&, nlohmann::json& p) {
      const auto& c = a.pe_array.get<C>();
      p["msb_bits"] = c.msb_bits;
      p["requant_threshold"] = c.requant_threshold;
      p["v_keep"] = c.v_keep;
    };
    return u;
  }();
  return d;
}

}  // namespace attnsim
