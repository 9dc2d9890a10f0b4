#include "controller/simulation.h"

#include <memory>

#include "dram/dram.h"
#include "dynamiqk/pattern_detector_unit.h"  // DynamiQK
#include "dynamiqk/static_pattern_unit.h"    // DynamiQK
#include "sanger/pack_split_encoder.h"
#include "sanger/sanger_predictor.h"
#include "sanger/score_stationary_array.h"
#include "sanger/score_stationary_cycle.h"
#include "spatten/spatten_datapath.h"
#include "systolic/systolic_cycle.h"
#include "spatten/spatten_pruner.h"
#include "systolic/systolic_array.h"
#include "util/error.h"
#include "workload/multimodal.h"

namespace attnsim {

nlohmann::json dump_meta(const ArchConfig& arch, const WorkloadSpec& workload) {
  const bool predictor = arch.mask_unit.kind == "sanger_predictor";
  nlohmann::json params = {{"number_format", arch.pe_array.number_format.name()},
                           {"prob_format", arch.pe_array.prob_format.name()},
                           {"exp", arch.pe_array.exp.name()},
                           {"scale", workload.scale()},
                           {"causal", workload.causal}};
  if (predictor) {
    params["bits"] = arch.mask_unit.bits;
    params["threshold"] = arch.mask_unit.threshold;
    params["keep_row_max"] = arch.mask_unit.keep_row_max;
    // Only where they differ from attnsim's first predictor (raw Q/K, one
    // absmax per head) and gpu_ref's exact row maximum.
    if (arch.mask_unit.normalize_qk) params["normalize_qk"] = "inner_product";
    if (arch.mask_unit.quant_scope_layer) params["quant_scope"] = "layer";
    if (arch.pe_array.row_max == RowMaxSource::predictor) params["row_max"] = "predictor";
  }
  const std::string& kind = arch.mask_unit.kind;
  if (kind == "spatten_pruner" || kind == "pattern_detector") {
    const nlohmann::json a = arch.to_json();
    params["mask_unit"] = a["mask_unit"];
    // Timing-only choices change no value the GPU recomputes.
    params["mask_unit"].erase("topk_pivot");
    if (params["mask_unit"].contains("array")) params["mask_unit"]["array"].erase("fold_drain");
    // gpu_ref's default (older dumps): written only when it differs.
    if (params["mask_unit"].value("block_sparse_diagonal", "") == "forced") params["mask_unit"].erase("block_sparse_diagonal");
    params["model_layers"] = workload.layers;  // the keep schedules span the model's layers
    if (arch.pe_array.kind == "spatten_datapath")
      for (const char* key : {"msb_bits", "requant_threshold", "v_keep"}) params[key] = a["pe_array"][key];
    if (kind == "pattern_detector") params["segments"] = workload_segments(workload)->to_json();
  }
  return {{"algorithm", predictor ? "sanger" : kind == "none" ? "dense" : kind},
          {"params", params},
          {"arch", arch.name},
          {"workload", workload.to_json()},
          {"batch", workload.batch},
          {"heads", workload.heads}};
}

namespace {

struct Top : sc_core::sc_module {
  Dram dram;
  std::unique_ptr<SangerPredictor> predictor;
  std::unique_ptr<PatternDetectorUnit> detector;   // DynamiQK
  std::unique_ptr<StaticPatternUnit> static_mask;  // DynamiQK
  std::unique_ptr<PackSplitEncoder> encoder;
  std::unique_ptr<ScoreStationaryArray> score_stationary;
  std::unique_ptr<SystolicArray> systolic;
  std::unique_ptr<JobUnit<ComputeJob>> cycle_array;  // "fidelity": "cycle"
  std::unique_ptr<SpattenPruner> pruner;
  std::unique_ptr<SpattenDatapath> spatten;
  Controller controller;

  Top(sc_core::sc_module_name name, const ArchConfig& arch, const WorkloadSpec& workload, WorkloadSource& source,
      DumpWriter* dump, Controller::Progress progress, FunctionalCache* cache, int accuracy_rows)
      : sc_module(name),
        dram("dram", arch.memory.dram),
        controller("controller", arch, workload, source, dump, std::move(progress), cache, accuracy_rows) {
    controller.dram_socket.bind(dram.socket);
    auto& stats = controller.stats();
    if (arch.mask_unit.kind == "sanger_predictor") {
      predictor = std::make_unique<SangerPredictor>("predictor", arch.mask_unit, arch.clock_ghz);
      controller.mask_socket.bind(predictor->socket);
      stats.unit_pes["mask_unit"] = predictor->pe_count();
    }
    // --- DynamiQK mask units ---
    if (arch.mask_unit.kind == "pattern_detector") {
      detector = std::make_unique<PatternDetectorUnit>("detector", arch.mask_unit, workload, arch.clock_ghz);
      controller.mask_socket.bind(detector->socket);
      stats.unit_pes["mask_unit"] = detector->pe_count();
    } else if (arch.mask_unit.kind == "static_pattern") {
      static_mask = std::make_unique<StaticPatternUnit>("static_mask", arch.mask_unit, workload, arch.clock_ghz);
      controller.mask_socket.bind(static_mask->socket);
      stats.unit_pes["mask_unit"] = static_mask->pe_count();
    }
    // --- end DynamiQK ---
    if (arch.mask_unit.kind == "spatten_pruner") {
      pruner = std::make_unique<SpattenPruner>("pruner", arch.mask_unit, workload, arch.clock_ghz,
                                               arch.fidelity == "cycle");
      controller.mask_socket.bind(pruner->socket);
    }
    if (arch.encoder.kind == "pack_split") {
      encoder = std::make_unique<PackSplitEncoder>("encoder", arch.encoder, arch.pe_array.pes_per_row, arch.clock_ghz);
      controller.encoder_socket.bind(encoder->socket);
    }
    const bool cycle = arch.fidelity == "cycle";
    if (cycle && arch.pe_array.kind == "score_stationary") {  // clocked register-level array (docs/fidelity.md)
      auto a = std::make_unique<ScoreStationaryArrayCycle>("pe_array", arch.pe_array, arch.encoder.segment_width,
                                                           arch.clock_ghz);
      stats.unit_pes["pe_array"] = a->pe_count();
      stats.pes_per_row = arch.pe_array.pes_per_row;
      controller.pe_socket.bind(a->socket);
      cycle_array = std::move(a);
    } else if (cycle && arch.pe_array.kind == "systolic_os") {
      auto a = std::make_unique<SystolicArrayCycle>("pe_array", arch.pe_array, arch.clock_ghz);
      stats.unit_pes["pe_array"] = a->pe_count();
      controller.pe_socket.bind(a->socket);
      cycle_array = std::move(a);
    } else if (arch.pe_array.kind == "score_stationary") {
      score_stationary = std::make_unique<ScoreStationaryArray>("pe_array", arch.pe_array,
                                                                arch.encoder.segment_width, arch.clock_ghz);
      controller.pe_socket.bind(score_stationary->socket);
      stats.unit_pes["pe_array"] = score_stationary->pe_count();
      stats.pes_per_row = arch.pe_array.pes_per_row;
    } else if (arch.pe_array.kind == "spatten_datapath") {
      spatten = std::make_unique<SpattenDatapath>("pe_array", arch.pe_array, arch.clock_ghz);
      controller.pe_socket.bind(spatten->socket);
      stats.unit_pes["pe_array"] = spatten->pe_count();
    } else {
      systolic = std::make_unique<SystolicArray>("pe_array", arch.pe_array, arch.clock_ghz);
      controller.pe_socket.bind(systolic->socket);
      stats.unit_pes["pe_array"] = systolic->pe_count();
    }
    stats.unit_kinds = {{"mask_unit", arch.mask_unit.kind},
                        {"encoder", arch.encoder.kind},
                        {"pe_array", arch.pe_array.kind}};
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
    content.prediction = arch.mask_unit.kind == "sanger_predictor";
    content.pruning = arch.mask_unit.kind == "spatten_pruner";
    content.patterns = arch.mask_unit.kind == "pattern_detector";
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
