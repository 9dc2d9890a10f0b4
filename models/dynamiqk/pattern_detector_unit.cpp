#include "dynamiqk/pattern_detector_unit.h"

#include <algorithm>

#include "util/error.h"
#include "util/json_reader.h"

namespace attnsim {

PatternDetectorUnit::PatternDetectorUnit(sc_core::sc_module_name name, const PatternDetectorConfig& config,
                                         const WorkloadSpec& workload, double clock_ghz)
    : JobUnit<MaskJob>(name, clock_ghz), config_(config), seq_(workload.seq_len) {
  if (!workload.causal)
    throw InputError(workload.file, "causal",
                     "the pattern_detector mask unit models MInference's causal prefill: the workload must be causal");
  hw_.array_rows = config.array.rows;
  hw_.array_cols = config.array.cols;
  hw_.array_fold_drain = config.array.fold_drain;
  hw_.lanes = config.softmax_lanes;
  hw_.softmax_latency = config.softmax_latency_cycles;
  hw_.topk_parallelism = config.topk_parallelism;
  hw_.index_lanes = config.index_lanes;
  hw_.emit_lanes = config.emit_lanes;
  segments_ = workload_segments(workload);

}

std::shared_ptr<const HeadDetection> PatternDetectorUnit::detect(const HeadTensors& head, int layer, int head_index,
                                                                 double scale, bool dumping) const {
  const auto f = config_.fixed_heads.find({layer, head_index});
  DetectorParams params = config_.detector;
  params.keep_estimates = dumping;
  return std::make_shared<const HeadDetection>(detect_head(head.q, head.k, scale, segments_, params,
                                                           f == config_.fixed_heads.end() ? nullptr : &f->second));
}

std::shared_ptr<const void> PatternDetectorUnit::prepare_head(const HeadTensors& head, int layer, int head_index,
                                                              double scale, bool dumping) const {
  return detect(head, layer, head_index, scale, dumping);
}

void PatternDetectorUnit::run(MaskJob& job) {
  const auto key = std::make_pair(job.layer, job.head_index);
  const int d = static_cast<int>(job.head->q.cols());
  UnitWork work;
  auto it = plans_.find(key);
  if (job.row0 == 0 || it == plans_.end()) {
    const auto prepared = job.prepared ? std::static_pointer_cast<const HeadDetection>(job.prepared)
                                       : detect(*job.head, job.layer, job.head_index, job.scale, job.dumping);
    const HeadDetection& det = *prepared;
    work = detector_head_work(det.activity, d, hw_);
    work.counts["heads"] = 1;
    work.counts["heads_" + det.info.value("pattern", std::string("dense"))] = 1;
    // Estimation operands at 16 bits (own model): the estimation rows' Q, all
    // of K once per array row fold, probabilities written once.
    const int64_t rows = det.activity.estimate_rows();
    work.sram_read_bytes["q"] = rows * d * 2;
    int64_t k_bytes = 0;
    for (const auto& [r, keys] : det.activity.estimate_gemms) k_bytes += keys * d * 2 * ceil_div(r, hw_.array_rows);
    work.sram_read_bytes["k"] = k_bytes;
    // Keys detection reads: the estimation GEMMs' causal keys, all of K when
    // block pooling ran. Later tiles only emit masks from the cached plan.
    int64_t keys = det.activity.pooled_tokens > 0 ? seq_ : 0;
    for (const auto& [r, k] : det.activity.estimate_gemms) keys = std::max(keys, k);
    job.k_keys_read = keys;
    work.sram_write_bytes["score"] = det.activity.probabilities * 2;
    if (job.row0 == 0) job.head_info = det.info;
    if (job.row0 == 0 && job.dumping) {  // the plan with every index, and the estimates it came from
      nlohmann::json by_query = nlohmann::json::array();
      for (const HeadPattern& hp : det.plan.by_query) by_query.push_back(hp.to_json(true));
      nlohmann::json plan = {{"boundary", det.plan.boundary}, {"by_query", by_query}};
      if (!det.plan.skip.empty()) plan["skip"] = det.plan.skip;
      job.dump_info = {{"plan", plan}, {"estimates", det.estimates}, {"info", det.info}};
    }
    it = plans_.insert_or_assign(key, det.plan).first;
  }
  emit_tile_mask(it->second, job);
  work.merge(tile_mask_work(job, hw_.emit_lanes, config_.detector.block));
  job.work = work;
  if (job.row0 + job.rows >= seq_) plans_.erase(key);  // the head's last tile
}

}  // namespace attnsim
