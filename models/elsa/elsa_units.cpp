// ELSA's candidate selection's registry entry (Ham et al., ISCA 2021;
// docs/elsa.md): parameters, module, pricing, dump parameters.
#include "elsa/elsa_units.h"

#include "config/arch_config.h"
#include "elsa/elsa_config.h"
#include "elsa/elsa_unit.h"
#include "energy/energy_model.h"

namespace attnsim {

namespace {

// Own model: hashing and the estimates multiply 16-bit operands (as the
// DynamiQK detector's estimation).
constexpr int kElsaBits = 16;

const ParamTable<ElsaParams>& selection_table() {
  static const auto t = [] {
    ParamTable<ElsaParams> t;
    t.integer("hash_bits", &ElsaParams::hash_bits, 1, 256, "bits", "k: sign random projections per hash (ELSA: 64)")
        .number("threshold", &ElsaParams::threshold, 1e-300, 1.0, "",
                "smallest estimated probability ratio to the row's best key a candidate may have")
        .custom({"seed", "integer", "", "0 … 2^53", "", "seed of the projection matrix"},
                [](JsonReader& r, ElsaParams& p) {
                  p.seed = static_cast<uint64_t>(r.integer("seed", static_cast<int64_t>(p.seed), 0, int64_t{1} << 53));
                },
                [](const ElsaParams& p, nlohmann::json& j) { j["seed"] = p.seed; });
    return t;
  }();
  return t;
}

}  // namespace

const UnitDescriptor& elsa_unit() {
  static const UnitDescriptor d = [] {
    using C = ElsaConfig;
    ParamTable<C> t;
    t.inline_struct(&C::selection, selection_table())
        .integer("hash_multipliers", &C::hash_multipliers, 1, 1 << 16, "multipliers",
                 "hash unit: projection and norm MACs per cycle")
        .integer("select_lanes", &C::select_lanes, 1, 4096, "per cycle", "candidate selection: pairs estimated per cycle")
        .integer("pipeline_latency_cycles", &C::pipeline_latency_cycles, 0, 1000, "cycles",
                 "fill of the hash and selection pipelines")
        .integer("emit_lanes", &C::emit_lanes, 1, 1 << 16, "per cycle", "mask entries written per cycle per tile");
    UnitDescriptor u;
    u.slot = Slot::mask_unit;
    u.name = "elsa";
    u.summary = "ELSA's candidate selection: sign random projections to k-bit hashes, Hamming distance as the angle, "
                "keys within a probability ratio of the row's best kept";
    u.caps.gpu_algorithm = "elsa";
    describe_params(u, t);
    u.make_module = [](sc_core::sc_module_name name, const UnitBuild& b) -> std::unique_ptr<UnitModule> {
      return std::make_unique<ElsaUnit>(name, b.arch.mask_unit.get<C>(), b.workload.head_dim, b.arch.clock_ghz);
    };
    u.mac_arith = [](const ArchConfig&) {
      const Arith m = Arith::integer(kElsaBits);
      return std::optional<MacArith>(MacArith{m, mac_accumulator(m)});
    };
    u.priced_counters = {"add_ops", "compare_ops", "index_ops"};
    // The hash unit's MACs; per selection lane a popcount adder, the
    // estimate's multiplier and two comparators; the emitting lanes.
    u.area_um2 = [](const ArchConfig& a, const TechTable& t) {
      const auto& c = a.mask_unit.get<C>();
      const OperatorArea o = operator_area(a);
      const Arith m = Arith::integer(kElsaBits);
      return c.hash_multipliers * OperatorArea::mac(t, m) +
             c.select_lanes * (o.index_adder + t.mult_um2(m) + 2 * o.comparator) + c.emit_lanes * o.index_adder;
    };
    u.dump_params = [](const ArchConfig& a, const WorkloadSpec& w, nlohmann::json& p) {
      const ElsaParams& s = a.mask_unit.get<C>().selection;
      p["hash_bits"] = s.hash_bits;
      p["threshold"] = s.threshold;
      p["log_inv_p"] = elsa_log_inv_p(s.threshold);
      p["seed"] = s.seed;
      const MatF proj = elsa_projection(s.hash_bits, w.head_dim, s.seed);
      nlohmann::json rows = nlohmann::json::array();
      for (Eigen::Index r = 0; r < proj.rows(); ++r)
        rows.push_back(std::vector<float>(proj.row(r).data(), proj.row(r).data() + proj.cols()));
      p["projection"] = rows;
      p["cos_table"] = elsa_cos_table(s.hash_bits);
    };
    return u;
  }();
  return d;
}

}  // namespace attnsim
