#pragma once
// Elaboration of one simulation: the units the arch names, each made by its
// registry entry (common/unit.h) and bound to the controller's slot, and DRAM.
// SystemC elaborates once per process: make one Top per process.
#include <memory>
#include <vector>

#include "common/unit.h"
#include "config/arch_config.h"
#include "controller/controller.h"
#include "dram/dram.h"

namespace attnsim {

struct Top : sc_core::sc_module {
  Dram dram;
  std::unique_ptr<UnitModule> mask_unit, encoder, pe_array;
  Controller controller;

  Top(sc_core::sc_module_name name, const ArchConfig& arch, const WorkloadSpec& workload, WorkloadSource& source,
      std::vector<RunObserver*> observers, Controller::Progress progress, ControllerOptions options = {});
};

}  // namespace attnsim
