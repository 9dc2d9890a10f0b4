// The unit registry: every unit kind attnsim knows, one line each. Adding a
// unit is a folder under models/ with its config, module and descriptor, plus
// one line here (docs/architecture.md, "Adding a unit").
#include "common/unit.h"

#include "dynamiqk/dynamiqk_units.h"
#include "elsa/elsa_units.h"
#include "sanger/sanger_units.h"
#include "spatten/spatten_units.h"
#include "systolic/systolic_units.h"

namespace attnsim {

namespace {

struct NoParams {};

// The empty mask-unit or encoder slot.
UnitDescriptor make_none(Slot slot) {
  UnitDescriptor u;
  u.slot = slot;
  u.name = "none";
  u.summary = slot == Slot::mask_unit ? "no mask unit: every tile is dense (causal if the workload is)"
                                      : "no encoder";
  if (slot == Slot::mask_unit) u.caps.gpu_algorithm = "dense";
  u.caps.structured_masks = true;  // the controller gives a dense causal tile as a TileShape
  describe_params(u, ParamTable<NoParams>());
  return u;
}

}  // namespace

const UnitDescriptor& no_unit(Slot slot) {
  static const UnitDescriptor mask = make_none(Slot::mask_unit), encoder = make_none(Slot::encoder);
  if (slot == Slot::pe_array) throw std::logic_error("the PE array slot is never empty");
  return slot == Slot::mask_unit ? mask : encoder;
}

const std::vector<const UnitDescriptor*>& all_units() {
  static const std::vector<const UnitDescriptor*> units = {
      &no_unit(Slot::mask_unit),
      &sanger_predictor_unit(),
      &pattern_detector_unit(),
      &static_pattern_unit(),
      &spatten_pruner_unit(),
      &elsa_unit(),
      &no_unit(Slot::encoder),
      &pack_split_unit(),
      &score_stationary_unit(),
      &systolic_os_unit(),
      &spatten_datapath_unit(),
  };
  return units;
}

std::vector<const UnitDescriptor*> units_of(Slot slot) {
  std::vector<const UnitDescriptor*> out;
  for (const auto* u : all_units())
    if (u->slot == slot) out.push_back(u);
  return out;
}

const UnitDescriptor* find_unit(Slot slot, const std::string& name) {
  for (const auto* u : all_units())
    if (u->slot == slot && u->name == name) return u;
  return nullptr;
}

const char* slot_name(Slot s) {
  return s == Slot::mask_unit ? "mask_unit" : s == Slot::encoder ? "encoder" : "pe_array";
}

}  // namespace attnsim
