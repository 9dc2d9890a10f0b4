#pragma once
// SpAtten's cascade token and head pruning as a mask unit: at each layer
// boundary its top-k engine keeps the most important tokens and heads
// (kernels/spatten.h); it learns importance from the tiles the PE array
// computes (observation jobs), so it can sit in front of any array. With
// `cycle_accurate` its top-k runs on the clocked engine (topk_engine_cycle.h):
// the same decisions and cycles, with time passing on the engine's clock.
#include <memory>

#include "common/compute_unit.h"
#include "spatten/spatten_config.h"
#include "kernels/spatten.h"
#include "spatten/topk_engine_cycle.h"
#include "workload/workload.h"

namespace attnsim {

class SpattenPruner : public JobUnit<MaskJob> {
 public:
  SpattenPruner(sc_core::sc_module_name name, const SpattenPrunerConfig& config, const WorkloadSpec& workload,
                double clock_ghz, bool cycle_accurate = false);

 protected:
  void run(MaskJob& job) override;

 private:
  SpattenPrunerConfig config_;
  WorkloadSpec workload_;
  CascadePruner pruner_;
  std::unique_ptr<TopKEngineCycle> engine_;  // cycle fidelity only
};

}  // namespace attnsim
