#include "dynamiqk/static_pattern_unit.h"

#include "kernels/pattern_static.h"
#include "util/error.h"

namespace attnsim {

StaticPatternUnit::StaticPatternUnit(sc_core::sc_module_name name, const StaticPatternConfig& config,
                                     const WorkloadSpec& workload, double clock_ghz)
    : JobUnit<MaskJob>(name, clock_ghz), config_(config), seq_(workload.seq_len), heads_(workload.heads) {
  if (!workload.causal)
    throw InputError(workload.file, "causal", "the static_pattern mask unit's patterns are causal: the workload must be causal");
  segments_ = workload_segments(workload);
}

void StaticPatternUnit::run(MaskJob& job) {
  const int head = job.head_index % heads_;  // Phi-3's per-head shift uses the head within the layer
  if (head != plan_head_) {
    plan_ = static_plan(config_.pattern, seq_, head, heads_, segments_);
    plan_head_ = head;
  }
  emit_tile_mask(plan_, job);
  UnitWork work = tile_mask_work(job, config_.emit_lanes, config_.pattern.block);
  if (job.row0 == 0) {
    nlohmann::json info = plan_.by_query[0].to_json();
    info["head_in_layer"] = head;
    job.head_info = info;
  }
  job.work = work;
}

}  // namespace attnsim
