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
  if (job.known_mask)
    job.prediction.mask = *job.known_mask;
  else
    job.prediction.mask = plan_.mask(job.row0, job.rows);
  const CsrMask& mask = job.prediction.mask;
  UnitWork work = mask_emit_work(mask.nnz(), config_.emit_lanes);
  const BlockLabelCounts labels = label_blocks(mask, job.row0, config_.pattern.block);
  work.counts["blocks_empty"] = labels.empty;
  work.counts["blocks_full"] = labels.full;
  work.counts["blocks_causal"] = labels.causal;
  work.counts["blocks_partial"] = labels.partial;
  work.sram_write_bytes["score"] = ceil_div(static_cast<int64_t>(mask.rows) * mask.cols, 8);
  if (job.row0 == 0) {
    nlohmann::json info = plan_.by_query[0].to_json();
    info["head_in_layer"] = head;
    job.head_info = info;
  }
  job.work = work;
}

}  // namespace attnsim
