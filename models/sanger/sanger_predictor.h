#pragma once
// Sanger's prediction unit: low-bit QKᵀ on its own dense array, softmax and
// threshold into the tile's mask (values: kernels/sanger_predict.h, latency:
// sanger_timing.h).
#include "common/compute_unit.h"
#include "config/arch_config.h"

namespace attnsim {

class SangerPredictor : public JobUnit<MaskJob> {
 public:
  SangerPredictor(sc_core::sc_module_name name, const MaskUnitConfig& config, double clock_ghz);
  int64_t pe_count() const { return static_cast<int64_t>(config_.array_rows) * config_.array_cols; }

 protected:
  void run(MaskJob& job) override;

 private:
  MaskUnitConfig config_;
};

}  // namespace attnsim
