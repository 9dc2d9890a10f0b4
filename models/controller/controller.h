#pragma once
// The controller: a TLM initiator that walks batch → layers → heads → query
// tiles, sends each tile to the units the arch chose (mask unit, encoder, PE
// array) and its transfers to DRAM (tile_traffic.h), and schedules the stages
// as a pipeline (pipeline.h), the run's one source of time. Loosely timed: the
// quantum keeper advances local time by the schedule's horizon and syncs once
// per quantum; no sc_clock. What a run does besides timing (accuracy, dumps,
// the functional cache) happens in the front end's observers
// (run_observer.h).
#include <exception>
#include <functional>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "common/run_stats.h"
#include "config/arch_config.h"
#include "common/unit.h"
#include "controller/head_prefetch.h"
#include "controller/pipeline.h"
#include "controller/run_observer.h"
#include "sram/sram_buffer.h"
#include "workload/workload.h"

namespace attnsim {

// Whether every unit of the arch takes tiles' masks as TileShapes (fast
// fidelity, causal attention): then no mask is listed unless an observer
// wants CSR, and a head's cost no longer grows with its kept entries.
bool takes_structured_masks(const ArchConfig& arch, bool causal);

struct ControllerOptions {
  int threads = 1;               // heads prepared ahead on a pool (controller/head_prefetch.h); 1: none
  // Tiles' masks as TileShapes where every unit and the pattern allow
  // (kernels/tile_shape.h): the same numbers without enumerating the masks;
  // false: always CSR.
  bool structured_masks = true;
};

class Controller : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<Controller> dram_socket;
  tlm_utils::simple_initiator_socket_optional<Controller> mask_socket;
  tlm_utils::simple_initiator_socket_optional<Controller> encoder_socket;
  tlm_utils::simple_initiator_socket<Controller> pe_socket;

  using Progress = std::function<void(int done, int total)>;  // heads simulated, of all

  SC_HAS_PROCESS(Controller);
  Controller(sc_core::sc_module_name name, const ArchConfig& arch, const WorkloadSpec& workload,
             WorkloadSource& source, std::vector<RunObserver*> observers, Progress progress,
             ControllerOptions options = {});
  // The mask unit, whose per-head work (UnitModule::prepare_head) runs ahead; null: none.
  void set_mask_unit(const UnitModule* unit) { mask_module_ = unit; }

  RunStats& stats() { return stats_; }
  int64_t cache_hits() const { return cache_hits_; }
  int64_t structured_tiles() const { return structured_tiles_; }
  bool finished() const { return finished_; }
  // An exception raised in the controller's thread, rethrown after sc_start.
  std::exception_ptr error() const { return error_; }

 private:
  void run();
  // layer_heads: every head of the layer when the mask unit reads them all, else null.
  void run_head(const HeadTensors& head, const std::vector<HeadTensors>* layer_heads, const PreparedHead* prepared,
                int layer_index, int head_index, PeriodStats& layer);
  PreparedHead prepare(int batch_index, int layer, int head) const;
  Cycles dram_burst(bool write, uint64_t address, int64_t bytes, PeriodStats& layer);
  void advance(Cycles horizon);

  ArchConfig arch_;
  WorkloadSpec workload_;
  WorkloadSource& source_;
  std::vector<RunObserver*> observers_;
  Progress progress_;
  ControllerOptions options_;
  bool structured_ = false;  // tiles' masks as TileShapes (options_, the units and observers allow)
  const UnitModule* mask_module_ = nullptr;
  sc_core::sc_time period_;
  tlm_utils::tlm_quantumkeeper qk_;
  TilePipeline pipeline_;
  std::map<std::string, SramBuffer> sram_;
  RunStats stats_;
  bool finished_ = false;
  int64_t cache_hits_ = 0;
  int64_t structured_tiles_ = 0;
  std::exception_ptr error_;
};

}  // namespace attnsim
