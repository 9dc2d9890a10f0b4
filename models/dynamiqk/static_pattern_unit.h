#pragma once
// A static mask source (kernels/pattern_static.h: Phi-3-small local-stride,
// A-shape / Tri-shape, interleaved-modality rules) as a mask unit: no
// estimation, the tile's mask is generated from the rule. Latency: mask
// emission only (dynamiqk_timing.h); the FULL / CAUSAL / PARTIAL / EMPTY
// block labels of each tile are counted.
#include <memory>

#include "common/compute_unit.h"
#include "dynamiqk/dynamiqk_config.h"
#include "dynamiqk/dynamiqk_timing.h"
#include "kernels/patterns.h"
#include "workload/workload.h"

namespace attnsim {

class StaticPatternUnit : public JobUnit<MaskJob> {
 public:
  StaticPatternUnit(sc_core::sc_module_name name, const StaticPatternConfig& config, const WorkloadSpec& workload,
                    double clock_ghz);
  std::optional<int64_t> pe_count() const override { return 0; }

 protected:
  void run(MaskJob& job) override;

 private:
  StaticPatternConfig config_;
  int seq_ = 0, heads_ = 1;
  std::shared_ptr<const SegmentMap> segments_;
  MaskPlan plan_;
  int plan_head_ = -1;  // head (within the layer) plan_ was built for
};

}  // namespace attnsim
