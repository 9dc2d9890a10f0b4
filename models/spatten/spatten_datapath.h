#pragma once
// SpAtten's attention datapath as a PE array: QK and AV broadcast-reduce
// multiplier arrays, softmax lanes, progressive quantisation and local V
// pruning (values: kernels/spatten.h; latency: spatten_timing.h).
#include "common/compute_unit.h"
#include "spatten/spatten_config.h"
#include "kernels/spatten.h"

namespace attnsim {

class SpattenDatapath : public JobUnit<ComputeJob> {
 public:
  SpattenDatapath(sc_core::sc_module_name name, const SpattenDatapathConfig& config, double clock_ghz);
  std::optional<int64_t> pe_count() const override { return static_cast<int64_t>(config_.qk_multipliers) + config_.av_multipliers; }

 protected:
  void run(ComputeJob& job) override;

 private:
  SpattenDatapathConfig config_;
  const HeadOperands* msb_source_ = nullptr;  // the head msb_ was made from
  int drained_layer_ = -1;                     // drain = per_layer: the last layer charged its fill and drain
  HeadOperands msb_;
};

}  // namespace attnsim
