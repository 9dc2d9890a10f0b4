#pragma once
// A unit kind, described once (docs/architecture.md, "Adding a unit"): its
// slot and JSON name, its parameter table, what it can do, the SystemC module
// that times it, and how its operations and area are priced. The registry
// (models/units.cpp) lists every descriptor; nothing else names a unit kind.
// Kinds are told apart by descriptor and capability inside the code; the
// names are only read and written at the JSON boundary.
#include <any>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <systemc>
#include <tlm>

#include "energy/tech_table.h"
#include "util/json_reader.h"
#include "util/param_table.h"

namespace attnsim {

struct ArchConfig;
struct WorkloadSpec;
struct HeadTensors;

enum class Slot { mask_unit, encoder, pe_array };
const char* slot_name(Slot s);

// The SystemC side of a unit: a TLM target the controller binds to the slot's
// socket. JobUnit<Job> (compute_unit.h) is the usual implementation.
class UnitModule : public sc_core::sc_module {
 public:
  using sc_core::sc_module::sc_module;
  virtual tlm::tlm_target_socket<>& target() = 0;
  // Multipliers the report lists for the unit (nullopt: none listed).
  virtual std::optional<int64_t> pe_count() const { return std::nullopt; }
  // The unit's functional work on a whole head that does not depend on the
  // run's state (e.g. the pattern detector's estimation), done ahead on a
  // pool of threads and handed back in MaskJob::prepared. Must be
  // thread-safe and pure; null: nothing to prepare.
  virtual std::shared_ptr<const void> prepare_head(const HeadTensors& /*head*/, int /*layer*/, int /*head_index*/,
                                                   double /*scale*/, bool /*dumping*/) const {
    return nullptr;
  }
  // PEs per row of a score-stationary array (the report's pack-split utilisation).
  virtual int pes_per_row() const { return 0; }
};

struct UnitBuild {
  const ArchConfig& arch;
  const WorkloadSpec& workload;
};

// How a unit's multiply-accumulates are priced: the multiplier's and the
// accumulator's arithmetic.
struct MacArith {
  Arith mult, acc;
};

struct UnitCaps {
  // Its values depend only on the inputs and parameters the functional cache
  // keys (dse/functional_cache.h): a rerun may reuse its masks and outputs.
  bool cacheable = true;
  // Mask unit: gets each computed tile back (observation jobs) and learns from it.
  bool learns = false;
  // Mask unit: predicts each query row's maximum score (RowMaxSource::predictor).
  bool predicts_row_max = false;
  // Mask unit: a dump holds its dense prediction of every head (S x S).
  bool dumps_dense_prediction = false;
  // Mask unit: a dump holds its pruning decisions (kept tokens and heads).
  bool dumps_pruning = false;
  // Mask unit: a dump holds its per-head plans (heads.json).
  bool dumps_head_plans = false;
  // Mask unit: reads every head of the layer at once (MaskJob::layer_heads,
  // Sanger's per-layer quantisation scale); the controller then holds whole
  // layers instead of one head at a time.
  bool reads_whole_layer = false;
  // Takes (mask unit: gives, where its pattern allows) a tile's mask as a
  // TileShape (kernels/tile_shape.h) instead of CSR: what long-context heads
  // need, whose masks are too large to enumerate. Fast fidelity only.
  bool structured_masks = false;
  // PE array: has a cycle-accurate model ("fidelity": "cycle").
  bool cycle_model = false;
  // PE array: the encoder kind it needs in front of it (nullptr: none allowed).
  const struct UnitDescriptor& (*needs_encoder)() = nullptr;
  // The algorithm name a dump's meta.json gives gpu_ref (null: the mask unit
  // has no GPU reference; the PE array's is the mask unit's).
  const char* gpu_algorithm = nullptr;
};

struct UnitDescriptor {
  Slot slot;
  std::string name;     // JSON "kind"
  std::string summary;  // one line, for docs/config_reference.md
  UnitCaps caps;

  // Parameters (from a ParamTable, see describe_params below).
  std::function<std::any()> defaults;
  // Reads the slot's object into params, which start as defaults(); `so_far`
  // holds the slots read before this one (mask unit, encoder, PE array).
  std::function<void(JsonReader&, std::any& params, const ArchConfig& so_far)> read;
  std::function<void(const std::any& params, nlohmann::json&)> write;
  std::function<std::vector<ParamDoc>()> docs;
  // Files the unit reads besides the arch (e.g. a pattern file): inputs a
  // run never overwrites, whose contents key the functional cache.
  std::function<std::vector<std::string>(const ArchConfig&)> input_files;
  // Rules across slots, checked once the whole arch is read (InputError naming `file`).
  std::function<void(const ArchConfig&, const std::string& file)> check;

  // Timing: the module; null for the empty slot ("none").
  std::function<std::unique_ptr<UnitModule>(sc_core::sc_module_name, const UnitBuild&)> make_module;
  // Keys per DRAM fetch block when K and V do not stay on chip (the block a
  // mask's kept keys are rounded up to); 0: the unit does not decide it.
  std::function<int(const ArchConfig&)> key_block;
  // PE array: probabilities its softmax evaluates per cycle (what a unit
  // that sums them, SpAtten's pruner, must keep pace with).
  std::function<int(const ArchConfig&)> softmax_lanes;
  // PE array: query tiles grow to a multiple of this many rows when
  // tiling.fill_array is on (0 or unset: not grown).
  std::function<int(const ArchConfig&)> fill_rows;

  // Energy and area (models/energy): the arithmetic of its MACs (nullopt: it
  // does none), the operation counters it reports and wants priced (a priced
  // counter it does not declare is an error), and its area.
  std::function<std::optional<MacArith>(const ArchConfig&)> mac_arith;
  std::vector<std::string> priced_counters;
  std::function<double(const ArchConfig&, const TechTable&)> area_um2;

  // Dump (docs/dump_format.md): the parameters gpu_ref needs to recompute the unit.
  std::function<void(const ArchConfig&, const WorkloadSpec&, nlohmann::json& params)> dump_params;
};

// Fills a descriptor's parameter functions from the table of its config struct P.
template <class P>
void describe_params(UnitDescriptor& d, const ParamTable<P>& table) {
  d.defaults = [] { return std::any(P{}); };
  d.read = [table](JsonReader& r, std::any& a, const ArchConfig&) { table.read(r, std::any_cast<P&>(a)); };
  d.write = [table](const std::any& a, nlohmann::json& j) { table.write(std::any_cast<const P&>(a), j); };
  d.docs = [table] { return table.docs(); };
}

// Every registered unit (models/units.cpp), and lookups by slot.
const std::vector<const UnitDescriptor*>& all_units();
std::vector<const UnitDescriptor*> units_of(Slot slot);
const UnitDescriptor* find_unit(Slot slot, const std::string& name);  // nullptr when unknown
const UnitDescriptor& no_unit(Slot slot);                              // "none" (mask unit, encoder)

}  // namespace attnsim
