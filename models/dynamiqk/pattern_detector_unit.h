#pragma once
// DynamiQK's pattern detector as a mask unit: on a head's first tile it
// estimates the head's sparse pattern online (kernels/pattern_detect.h, as
// MInference / MMInference) and caches the resulting mask plan, keyed by
// (layer, head_index); every tile of the head then gets its CSR mask from
// the plan. Latency: dynamiqk_timing.h (detection on the first tile, mask
// emission on every tile). docs/dynamiqk.md.
#include <map>
#include <memory>
#include <utility>

#include "common/compute_unit.h"
#include "dynamiqk/dynamiqk_config.h"
#include "dynamiqk/dynamiqk_timing.h"
#include "kernels/patterns.h"
#include "workload/workload.h"

namespace attnsim {

class PatternDetectorUnit : public JobUnit<MaskJob> {
 public:
  // Throws InputError for a non-causal workload.
  PatternDetectorUnit(sc_core::sc_module_name name, const PatternDetectorConfig& config, const WorkloadSpec& workload,
                      double clock_ghz);
  std::optional<int64_t> pe_count() const override { return static_cast<int64_t>(config_.array.rows) * config_.array.cols; }
  size_t cached_heads() const { return plans_.size(); }
  // The head's detection (HeadDetection), on a worker thread ahead of its tiles.
  std::shared_ptr<const void> prepare_head(const HeadTensors& head, int layer, int head_index, double scale,
                                           bool dumping) const override;

 protected:
  void run(MaskJob& job) override;

 private:
  std::shared_ptr<const HeadDetection> detect(const HeadTensors& head, int layer, int head_index, double scale,
                                              bool dumping) const;

 private:
  PatternDetectorConfig config_;
  DetectorHw hw_;
  int seq_ = 0;
  std::shared_ptr<const SegmentMap> segments_;
  std::map<std::pair<int, int>, MaskPlan> plans_;
};

}  // namespace attnsim
