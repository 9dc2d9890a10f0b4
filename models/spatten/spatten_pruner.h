#pragma once
// SpAtten's cascade token and head pruning as a mask unit: at each layer
// boundary its top-k engine keeps the most important tokens and heads
// (kernels/spatten.h); it learns importance from the tiles the PE array
// computes (observation jobs), so it can sit in front of any array.
#include <memory>

#include "common/compute_unit.h"
#include "config/arch_config.h"
#include "kernels/spatten.h"
#include "workload/workload.h"

namespace attnsim {

class SpattenPruner : public JobUnit<MaskJob> {
 public:
  SpattenPruner(sc_core::sc_module_name name, const MaskUnitConfig& config, const WorkloadSpec& workload,
                double clock_ghz);

 protected:
  void run(MaskJob& job) override;

 private:
  MaskUnitConfig config_;
  WorkloadSpec workload_;
  CascadePruner pruner_;
};

}  // namespace attnsim
