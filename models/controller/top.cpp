#include "controller/top.h"

namespace attnsim {

Top::Top(sc_core::sc_module_name name, const ArchConfig& arch, const WorkloadSpec& workload, WorkloadSource& source,
         std::vector<RunObserver*> observers, Controller::Progress progress, ControllerOptions options)
    : sc_module(name),
      dram("dram", arch.memory.dram),
      controller("controller", arch, workload, source, std::move(observers), std::move(progress), options) {
  controller.dram_socket.bind(dram.socket);
  auto& stats = controller.stats();
  const UnitBuild build{arch, workload};
  for (const UnitChoice* u : arch.units()) {
    const std::string slot = slot_name(u->unit->slot);
    stats.unit_kinds[slot] = u->kind();
    if (u->none()) continue;
    std::unique_ptr<UnitModule> m = u->unit->make_module(slot.c_str(), build);
    if (const auto pes = m->pe_count()) stats.unit_pes[slot] = *pes;
    if (m->pes_per_row()) stats.pes_per_row = m->pes_per_row();
    switch (u->unit->slot) {
      case Slot::mask_unit:
        controller.mask_socket.bind(m->target());
        controller.set_mask_unit(m.get());
        mask_unit = std::move(m);
        break;
      case Slot::encoder: controller.encoder_socket.bind(m->target()); encoder = std::move(m); break;
      case Slot::pe_array: controller.pe_socket.bind(m->target()); pe_array = std::move(m); break;
    }
  }
}

}  // namespace attnsim
