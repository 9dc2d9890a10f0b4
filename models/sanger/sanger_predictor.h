#pragma once
// Sanger's prediction unit: low-bit QKᵀ on its own dense array, softmax and
// threshold into the tile's mask (values: kernels/sanger_predict.h, latency:
// sanger_timing.h).
#include "common/compute_unit.h"
#include "sanger/sanger_config.h"

namespace attnsim {

class SangerPredictor : public JobUnit<MaskJob> {
 public:
  SangerPredictor(sc_core::sc_module_name name, const SangerPredictorConfig& config, double clock_ghz);
  std::optional<int64_t> pe_count() const override { return static_cast<int64_t>(config_.array.rows) * config_.array.cols; }

 protected:
  void run(MaskJob& job) override;

 private:
  SangerPredictorConfig config_;
};

}  // namespace attnsim
