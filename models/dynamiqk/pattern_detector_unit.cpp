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
  if (!config.pattern_file.empty()) fixed_ = load_pattern_file(config.pattern_file);
}

std::map<std::pair<int, int>, nlohmann::json> PatternDetectorUnit::load_pattern_file(const std::string& file) {
  const nlohmann::json j = JsonReader::load_file(file);
  static const std::vector<std::string> kinds{"dense",        "a_shape",        "tri_shape",  "grid",
                                              "block_sparse", "vertical_slash", "q_boundary", "2d_boundary"};
  std::map<std::pair<int, int>, nlohmann::json> out;
  auto add = [&](int layer, const nlohmann::json& h, const std::string& where) {
    if (!h.is_object() || !h.contains("head") || !h["head"].is_number_integer())
      throw InputError(file, where, "expected an object with an integer \"head\"");
    if (!h.contains("pattern") || !h["pattern"].is_string() ||
        std::find(kinds.begin(), kinds.end(), h["pattern"].get<std::string>()) == kinds.end())
      throw InputError(file, where + ".pattern",
                       "expected one of dense, a_shape, tri_shape, grid, block_sparse, vertical_slash, "
                       "q_boundary, 2d_boundary");
    if (h.contains("by_modality"))
      for (const auto& [m, sub] : h["by_modality"].items())
        if (!sub.is_object() || !sub.contains("pattern") || !sub["pattern"].is_string() ||
            std::find(kinds.begin(), kinds.begin() + 6, sub["pattern"].get<std::string>()) == kinds.begin() + 6)
          throw InputError(file, where + ".by_modality." + m + ".pattern", "expected a single-modality pattern");
    out[{layer, h["head"].get<int>()}] = h;
  };
  if (j.contains("layers") && j["layers"].is_array()) {  // a report
    for (size_t l = 0; l < j["layers"].size(); ++l) {
      const auto& L = j["layers"][l];
      if (!L.contains("heads")) continue;
      for (size_t i = 0; i < L["heads"].size(); ++i)
        add(static_cast<int>(l), L["heads"][i], "layers[" + std::to_string(l) + "].heads[" + std::to_string(i) + "]");
    }
  } else if (j.contains("heads") && j["heads"].is_array()) {
    for (size_t i = 0; i < j["heads"].size(); ++i) {
      const auto& h = j["heads"][i];
      if (!h.is_object() || !h.contains("layer") || !h["layer"].is_number_integer())
        throw InputError(file, "heads[" + std::to_string(i) + "]", "expected an integer \"layer\"");
      add(h["layer"].get<int>(), h, "heads[" + std::to_string(i) + "]");
    }
  } else {
    throw InputError(file, "", "expected a report (\"layers\") or {\"heads\": [...]}");
  }
  return out;
}

void PatternDetectorUnit::run(MaskJob& job) {
  const auto key = std::make_pair(job.layer, job.head_index);
  const int d = static_cast<int>(job.head->q.cols());
  UnitWork work;
  auto it = plans_.find(key);
  if (job.row0 == 0 || it == plans_.end()) {
    const auto f = fixed_.find(key);
    DetectorParams params = config_.detector;
    params.keep_estimates = job.dumping;
    HeadDetection det = detect_head(job.head->q, job.head->k, job.scale, segments_, params,
                                    f == fixed_.end() ? nullptr : &f->second);
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
    it = plans_.insert_or_assign(key, std::move(det.plan)).first;
  }
  if (job.known_mask)
    job.prediction.mask = *job.known_mask;
  else
    job.prediction.mask = it->second.mask(job.row0, job.rows);
  const CsrMask& mask = job.prediction.mask;
  work.merge(mask_emit_work(mask.nnz(), hw_.emit_lanes));
  const BlockLabelCounts labels = label_blocks(mask, job.row0, config_.detector.block);
  work.counts["blocks_empty"] += labels.empty;
  work.counts["blocks_full"] += labels.full;
  work.counts["blocks_causal"] += labels.causal;
  work.counts["blocks_partial"] += labels.partial;
  work.sram_write_bytes["score"] += ceil_div(static_cast<int64_t>(mask.rows) * mask.cols, 8);  // mask bits
  job.work = work;
  if (job.row0 + job.rows >= seq_) plans_.erase(key);  // the head's last tile
}

}  // namespace attnsim
