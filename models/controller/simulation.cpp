#include "controller/simulation.h"

#include <memory>

#include "dram/dram.h"
#include "util/error.h"

namespace attnsim {

nlohmann::json dump_meta(const ArchConfig& arch, const WorkloadSpec& workload) {
  nlohmann::json params = {{"number_format", arch.pe_array.number_format.name()},
                           {"prob_format", arch.pe_array.prob_format.name()},
                           {"exp", arch.pe_array.exp.name()},
                           {"scale", workload.scale()},
                           {"causal", workload.causal}};
  for (const UnitChoice* u : arch.units())
    if (u->unit->dump_params) u->unit->dump_params(arch, workload, params);
  const char* algorithm = arch.mask_unit.unit->caps.gpu_algorithm;
  return {{"algorithm", algorithm ? algorithm : arch.mask_unit.kind()},
          {"params", params},
          {"arch", arch.name},
          {"workload", workload.to_json()},
          {"batch", workload.batch},
          {"heads", workload.heads}};
}

namespace {

// The units the arch names, made by their registry entries and bound to the
// controller's slots.
struct Top : sc_core::sc_module {
  Dram dram;
  std::unique_ptr<UnitModule> mask_unit, encoder, pe_array;
  Controller controller;

  Top(sc_core::sc_module_name name, const ArchConfig& arch, const WorkloadSpec& workload, WorkloadSource& source,
      DumpWriter* dump, Controller::Progress progress, FunctionalCache* cache, int accuracy_rows)
      : sc_module(name),
        dram("dram", arch.memory.dram),
        controller("controller", arch, workload, source, dump, std::move(progress), cache, accuracy_rows) {
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
        case Slot::mask_unit: controller.mask_socket.bind(m->target()); mask_unit = std::move(m); break;
        case Slot::encoder: controller.encoder_socket.bind(m->target()); encoder = std::move(m); break;
        case Slot::pe_array: controller.pe_socket.bind(m->target()); pe_array = std::move(m); break;
      }
    }
  }
};

}  // namespace

RunStats simulate(const ArchConfig& arch, const WorkloadSpec& workload, const SimulationOptions& options,
                  SimulationInfo* info) {
  const int64_t row_bytes = static_cast<int64_t>(workload.head_dim) * arch.pe_array.number_format.bytes();
  const int64_t q_slot = static_cast<int64_t>(arch.memory.q_kib) * 1024 / (arch.memory.double_buffer ? 2 : 1);
  if (q_slot < row_bytes)
    throw InputError("", "memory.sram_kib.q", "holds no query row of " + std::to_string(row_bytes) +
                                                  " bytes (head_dim " + std::to_string(workload.head_dim) + ")");
  auto source = open_source(workload);
  std::unique_ptr<DumpWriter> dump;
  if (!options.dump_dir.empty()) {
    DumpContent content;
    const UnitCaps& caps = arch.mask_unit.unit->caps;
    content.prediction = caps.dumps_dense_prediction;
    content.pruning = caps.dumps_pruning;
    content.patterns = caps.dumps_head_plans;
    content.batch = workload.batch;
    content.heads = workload.heads;
    dump = std::make_unique<DumpWriter>(options.dump_dir, dump_meta(arch, workload), content,
                                        workload.simulated_layers(), workload.batch * workload.heads,
                                        workload.seq_len, workload.head_dim);
  }
  std::unique_ptr<FunctionalCache> cache;
  std::string key;
  if (!options.functional_cache_dir.empty() && FunctionalCache::applies_to(arch)) {
    key = FunctionalCache::functional_key(arch, workload, arch.query_tile_rows(workload.seq_len, workload.head_dim),
                                          options.accuracy_rows);
    cache = std::make_unique<FunctionalCache>(options.functional_cache_dir, key);
  }
  Top top("top", arch, workload, *source, dump.get(), options.progress, cache.get(), options.accuracy_rows);
  sc_core::sc_start();
  if (top.controller.error()) std::rethrow_exception(top.controller.error());
  if (!top.controller.finished()) throw std::runtime_error("simulation ended before the controller finished");
  if (dump) dump->commit();
  if (info) {
    info->cache_hits = top.controller.cache_hits();
    info->cache_key = key;
    if (cache) info->cache_damaged = cache->damaged();
  }
  RunStats stats = top.controller.stats();
  // Buffer capacities, for the report.
  for (const auto& [name, kib] : arch.memory.buffer_kib()) {
    stats.total.sram[name].capacity_bytes = static_cast<int64_t>(kib) * 1024;
    for (auto& l : stats.layers) l.sram[name].capacity_bytes = static_cast<int64_t>(kib) * 1024;
  }
  return stats;
}

}  // namespace attnsim
