// The Sanger block's registry entries (MICRO'21): the predictor, the
// pack-and-split encoder and the score-stationary array.
#include "sanger/sanger_units.h"

#include "config/arch_config.h"
#include "energy/energy_model.h"
#include "sanger/pack_split_encoder.h"
#include "sanger/sanger_config.h"
#include "sanger/sanger_predictor.h"
#include "sanger/score_stationary_array.h"
#include "sanger/score_stationary_cycle.h"
#include "systolic/systolic_units.h"
#include "util/error.h"

namespace attnsim {

const char* sweep_sync_name(SweepSync s) { return s == SweepSync::barrier ? "barrier" : "wavefront"; }

namespace {

// Own model: the predictor's b-bit products are summed at 2b + 8 bits (no
// overflow for up to 256 products, i.e. head_dim <= 256).
Arith predictor_accumulator(int bits) { return Arith::integer(2 * bits + 8); }

}  // namespace

const UnitDescriptor& sanger_predictor_unit() {
  static const UnitDescriptor d = [] {
    using C = SangerPredictorConfig;
    ParamTable<C> t;
    t.integer("bits", &C::bits, 2, 8, "bits", "width of the quantised Q and K of the prediction")
        .number("threshold", &C::threshold, 0.0, 1.0, "", "predicted probabilities below it are pruned")
        .boolean("keep_row_max", &C::keep_row_max, "always keep each row's largest predicted score")
        .choice("normalize_qk", &C::normalize_qk, {{"inner_product", true}, {"none", false}},
                "Q and K rows normalised before quantising (Sanger's code) or raw")
        .choice("quant_scope", &C::quant_scope_layer, {{"layer", true}, {"head", false}},
                "one absmax per layer (Sanger's code) or per head")
        .object("array", &C::array, estimation_array_table())
        .integer("softmax_lanes", &C::softmax_lanes, 1, 4096, "per cycle", "softmax-and-compare: probabilities per cycle")
        .integer("softmax_latency_cycles", &C::softmax_latency_cycles, 0, 1000, "cycles", "its pipeline latency");
    UnitDescriptor u;
    u.slot = Slot::mask_unit;
    u.name = "sanger_predictor";
    u.summary = "Sanger's prediction: low-bit QKᵀ on its own dense array, softmax, threshold into the mask";
    u.caps.predicts_row_max = true;
    u.caps.dumps_dense_prediction = true;
    u.caps.reads_whole_layer = true;
    u.caps.gpu_algorithm = "sanger";
    describe_params(u, t);
    u.make_module = [](sc_core::sc_module_name name, const UnitBuild& b) -> std::unique_ptr<UnitModule> {
      return std::make_unique<SangerPredictor>(name, b.arch.mask_unit.get<C>(), b.arch.clock_ghz);
    };
    u.mac_arith = [](const ArchConfig& a) {
      const int bits = a.mask_unit.get<C>().bits;
      return std::optional<MacArith>(MacArith{Arith::integer(bits), predictor_accumulator(bits)});
    };
    u.priced_counters = {"softmax_elements", "compare_ops"};
    u.area_um2 = [](const ArchConfig& a, const TechTable& t) {
      const auto& c = a.mask_unit.get<C>();
      const OperatorArea o = operator_area(a);
      const Arith b = Arith::integer(c.bits);
      return static_cast<double>(c.array.rows) * c.array.cols * (t.mult_um2(b) + t.add_um2(predictor_accumulator(c.bits))) +
             c.softmax_lanes * (o.softmax_lane + o.comparator);
    };
    u.dump_params = [](const ArchConfig& a, const WorkloadSpec&, nlohmann::json& p) {
      const auto& c = a.mask_unit.get<C>();
      p["bits"] = c.bits;
      p["threshold"] = c.threshold;
      p["keep_row_max"] = c.keep_row_max;
      // Only where they differ from attnsim's first predictor (raw Q/K, one
      // absmax per head) and gpu_ref's exact row maximum.
      if (c.normalize_qk) p["normalize_qk"] = "inner_product";
      if (c.quant_scope_layer) p["quant_scope"] = "layer";
    };
    return u;
  }();
  return d;
}

const UnitDescriptor& pack_split_unit() {
  static const UnitDescriptor d = [] {
    using C = PackSplitConfig;
    ParamTable<C> t;
    t.integer("segment_width", &C::segment_width, 1, 4096, "keys", "mask row segment handled as one unit")
        .integer("segments_per_cycle", &C::segments_per_cycle, 1, 1024, "per cycle", "row segments inspected per cycle");
    UnitDescriptor u;
    u.slot = Slot::encoder;
    u.name = "pack_split";
    u.caps.structured_masks = true;
    u.summary = "Sanger's pack-and-split encoder: mask row segments into sub-rows of the score-stationary array";
    describe_params(u, t);
    u.make_module = [](sc_core::sc_module_name name, const UnitBuild& b) -> std::unique_ptr<UnitModule> {
      const auto& pe = b.arch.pe_array.get<ScoreStationaryConfig>();
      return std::make_unique<PackSplitEncoder>(name, b.arch.encoder.get<C>(), pe.pes_per_row, b.arch.clock_ghz);
    };
    u.key_block = [](const ArchConfig& a) { return a.encoder.get<C>().segment_width; };
    u.priced_counters = {"index_ops"};
    // One index adder per mask bit of the segments handled per cycle.
    u.area_um2 = [](const ArchConfig& a, const TechTable&) {
      const auto& c = a.encoder.get<C>();
      return static_cast<double>(c.segment_width) * c.segments_per_cycle * operator_area(a).index_adder;
    };
    return u;
  }();
  return d;
}

const UnitDescriptor& score_stationary_unit() {
  static const UnitDescriptor d = [] {
    using C = ScoreStationaryConfig;
    static ParamTable<C> t;
    t.integer("rows", &C::rows, 1, 4096, "PEs", "array rows (sub-rows per pass)")
        .integer("pes_per_row", &C::pes_per_row, 1, 4096, "PEs", "PEs per row (keys of a sub-row)")
        .integer("clear_cycles", &C::clear_cycles, 0, 1000, "cycles", "clearing the accumulators before a pass")
        .integer("switch_cycles", &C::switch_cycles, 0, 1000, "cycles", "switching from SDDMM to SpMM")
        .integer("exp_latency_cycles", &C::exp_latency_cycles, 0, 1000, "cycles", "the PE's exp unit")
        // At least the array's operand register and the PE result register:
        // below 2 the formula would undercount every sweep (docs/fidelity.md).
        .integer("io_latency_cycles", &C::io_latency_cycles, 0, 1000, "cycles",
                 "operand and result registers around a sweep (at least 2)")
        .rule([](JsonReader& p, const C& c) {
          if (c.io_latency_cycles < 2)
            p.fail("io_latency_cycles", "must be at least 2 (the PE array's operand register and result register take "
                                        "a cycle each; got " + std::to_string(c.io_latency_cycles) + ")");
        })
        .integer("divide_latency_cycles", &C::divide_latency_cycles, 0, 1000, "cycles",
                 "reciprocal latency of the output normalisation")
        .choice("sweep_sync", &C::sweep_sync, {{"wavefront", SweepSync::wavefront}, {"barrier", SweepSync::barrier}},
                "SpMM starts per PE as its score leaves exp (wavefront) or after the whole SDDMM (barrier)")
        .choice("row_max", &C::row_max, {{"predictor", RowMaxSource::predictor}, {"pass", RowMaxSource::pass}},
                "each row's maximum for exp: from the mask unit's prediction, or an extra SDDMM pass "
                "(default: predictor behind a mask unit that predicts it, else pass)");
    UnitDescriptor u;
    u.slot = Slot::pe_array;
    u.name = "score_stationary";
    u.summary = "Sanger's reconfigurable score-stationary array: packed sub-rows doing SDDMM, exp and SpMM in place";
    u.caps.cycle_model = true;
    u.caps.needs_encoder = &pack_split_unit;
    u.caps.structured_masks = true;
    describe_params(u, t);
    // The row maximum's default follows the mask unit, read before this slot.
    u.read = [](JsonReader& r, std::any& a, const ArchConfig& so_far) {
      C& c = std::any_cast<C&>(a);
      const bool predicts = so_far.mask_unit.unit->caps.predicts_row_max;
      c.row_max = predicts ? RowMaxSource::predictor : RowMaxSource::pass;
      t.read(r, c);
      if (c.row_max == RowMaxSource::predictor && !predicts)
        r.fail("row_max", "\"predictor\" needs a mask unit that predicts each row's maximum (sanger_predictor); "
                          "expected \"pass\"");
    };
    u.check = [](const ArchConfig& a, const std::string& file) {
      const auto& c = a.pe_array.get<C>();
      const int width = a.encoder.get<PackSplitConfig>().segment_width;
      if (c.pes_per_row > width)
        throw InputError(file, "pe_array.pes_per_row", "must not exceed encoder.segment_width (" + std::to_string(width) + ")");
    };
    u.make_module = [](sc_core::sc_module_name name, const UnitBuild& b) -> std::unique_ptr<UnitModule> {
      const auto& c = b.arch.pe_array.get<C>();
      const int width = b.arch.encoder.get<PackSplitConfig>().segment_width;
      if (b.arch.fidelity == Fidelity::cycle)  // clocked register-level array (docs/fidelity.md)
        return std::make_unique<ScoreStationaryArrayCycle>(name, c, width, b.arch.clock_ghz);
      return std::make_unique<ScoreStationaryArray>(name, c, width, b.arch.clock_ghz);
    };
    u.softmax_lanes = [](const ArchConfig& a) {  // an exp unit in every PE
      const auto& c = a.pe_array.get<C>();
      return c.rows * c.pes_per_row;
    };
    u.mac_arith = [](const ArchConfig& a) { return std::optional<MacArith>(pe_array_mac_arith(a)); };
    u.priced_counters = {"softmax_elements", "normalised_rows"};
    // Every PE has a MAC and an exp unit; each row one divider.
    u.area_um2 = [](const ArchConfig& a, const TechTable& t) {
      const auto& c = a.pe_array.get<C>();
      const OperatorArea o = operator_area(a);
      return static_cast<double>(c.rows) * c.pes_per_row * (OperatorArea::mac(t, Arith::of(a.pe_array.number_format)) + o.exp) +
             c.rows * o.divider;
    };
    u.dump_params = [](const ArchConfig& a, const WorkloadSpec&, nlohmann::json& p) {
      if (a.pe_array.get<C>().row_max == RowMaxSource::predictor) p["row_max"] = "predictor";
    };
    return u;
  }();
  return d;
}

}  // namespace attnsim
