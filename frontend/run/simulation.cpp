#include "run/simulation.h"

#include <memory>

#include "controller/top.h"
#include "run/accuracy_check.h"
#include "run/dump_recorder.h"
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
  if (!options.functional_cache_dir.empty() && FunctionalCache::applies_to(arch, workload)) {
    key = FunctionalCache::functional_key(arch, workload, arch.query_tile_rows(workload.seq_len, workload.head_dim),
                                          options.accuracy_rows);
    cache = std::make_unique<FunctionalCache>(options.functional_cache_dir, key);
  }
  const int query_rows = arch.query_tile_rows(workload.seq_len, workload.head_dim);
  // A dump needs every value: no reuse from the cache then.
  AccuracyCheck accuracy(workload, query_rows, options.accuracy_rows, dump ? nullptr : cache.get());
  std::vector<RunObserver*> observers{&accuracy};
  std::unique_ptr<DumpRecorder> recorder;
  if (dump) {
    recorder = std::make_unique<DumpRecorder>(*dump, workload, arch.mask_unit.unit->caps.dumps_dense_prediction);
    observers.push_back(recorder.get());
  }
  ControllerOptions controller;
  controller.threads = options.threads;
  controller.structured_masks = options.structured_masks;
  Top top("top", arch, workload, *source, observers, options.progress, controller);
  sc_core::sc_start();
  if (top.controller.error()) std::rethrow_exception(top.controller.error());
  if (!top.controller.finished()) throw std::runtime_error("simulation ended before the controller finished");
  if (dump) dump->commit();
  if (info) {
    info->cache_hits = top.controller.cache_hits();
    info->structured_tiles = top.controller.structured_tiles();
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
