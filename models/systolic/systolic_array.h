#pragma once
// Dense baseline: an output-stationary systolic array computing QKᵀ, softmax
// and PV of a query tile (timing in systolic_timing.h).
#include "common/compute_unit.h"
#include "systolic/systolic_config.h"

namespace attnsim {

class SystolicArray : public JobUnit<ComputeJob> {
 public:
  SystolicArray(sc_core::sc_module_name name, const SystolicConfig& config, double clock_ghz);
  std::optional<int64_t> pe_count() const override { return static_cast<int64_t>(config_.rows) * config_.cols; }

 protected:
  void run(ComputeJob& job) override;

 private:
  SystolicConfig config_;
};

}  // namespace attnsim
