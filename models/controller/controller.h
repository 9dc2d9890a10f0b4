#pragma once
// The controller: a TLM initiator that walks batch → layers → heads → query
// tiles, sends each tile to the units the arch chose (mask unit, encoder, PE
// array) and its transfers to DRAM, and schedules the stages as a pipeline
// (pipeline.h). Loosely timed: the quantum keeper advances local time by the
// schedule's horizon and syncs once per quantum; no sc_clock.
#include <exception>
#include <functional>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "config/arch_config.h"
#include "dse/functional_cache.h"
#include "kernels/sanger_predict.h"
#include "controller/pipeline.h"
#include "report/dump.h"
#include "common/run_stats.h"
#include "sram/sram_buffer.h"
#include "workload/workload.h"

namespace attnsim {

// A query row whose output is compared with dense attention (--accuracy-rows).
struct SampledRow {
  int tile = 0, row = 0;       // the row's tile in its head, its query position
  std::vector<float> output;   // the PE array's output row
  std::vector<int32_t> keys;   // its mask row
};

class Controller : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<Controller> dram_socket;
  tlm_utils::simple_initiator_socket_optional<Controller> mask_socket;
  tlm_utils::simple_initiator_socket_optional<Controller> encoder_socket;
  tlm_utils::simple_initiator_socket<Controller> pe_socket;

  using Progress = std::function<void(int done, int total)>;

  SC_HAS_PROCESS(Controller);
  Controller(sc_core::sc_module_name name, const ArchConfig& arch, const WorkloadSpec& workload,
             WorkloadSource& source, DumpWriter* dump, Progress progress, FunctionalCache* cache = nullptr,
             int accuracy_rows = 0);

  RunStats& stats() { return stats_; }
  int64_t cache_hits() const { return cache_hits_; }
  bool finished() const { return finished_; }
  // An exception raised in the controller's thread, rethrown after sc_start.
  std::exception_ptr error() const { return error_; }

 private:
  void run();
  void run_head(const HeadTensors& head, int layer_index, int head_index, PeriodStats& layer);
  // Sanger's predictor with quant_scope = layer: the heads' rows as it
  // quantises them and the layer's absmax of Q and K over all of them.
  std::vector<QkRows> layer_rows_;
  float layer_absmax_q_ = 0, layer_absmax_k_ = 0;
  Cycles dram_burst(bool write, uint64_t address, int64_t bytes, PeriodStats& layer);
  void advance(Cycles horizon);

  ArchConfig arch_;
  WorkloadSpec workload_;
  WorkloadSource& source_;
  DumpWriter* dump_;
  FunctionalCache* cache_;
  int accuracy_rows_;  // rows per head compared with the dense reference (0: all)
  Progress progress_;
  sc_core::sc_time period_;
  tlm_utils::tlm_quantumkeeper qk_;
  TilePipeline pipeline_;
  std::map<std::string, SramBuffer> sram_;
  RunStats stats_;
  bool finished_ = false;
  int64_t cache_hits_ = 0;
  std::exception_ptr error_;
};

}  // namespace attnsim
