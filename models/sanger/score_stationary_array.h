#pragma once
// Sanger's reconfigurable score-stationary PE array: per key segment, passes
// of up to `rows` packed sub-rows doing SDDMM, exp and SpMM in place (timing
// in sanger_timing.h).
#include "common/compute_unit.h"
#include "sanger/sanger_config.h"

namespace attnsim {

class ScoreStationaryArray : public JobUnit<ComputeJob> {
 public:
  ScoreStationaryArray(sc_core::sc_module_name name, const ScoreStationaryConfig& config, int segment_width,
                       double clock_ghz);
  std::optional<int64_t> pe_count() const override { return static_cast<int64_t>(config_.rows) * config_.pes_per_row; }
  int pes_per_row() const override { return config_.pes_per_row; }

 protected:
  void run(ComputeJob& job) override;

 private:
  ScoreStationaryConfig config_;
  int segment_width_;
};

}  // namespace attnsim
