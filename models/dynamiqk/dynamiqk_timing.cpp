#include "dynamiqk/dynamiqk_timing.h"

#include "systolic/systolic_timing.h"

namespace attnsim {

Cycles topk_cycles(int64_t n, int64_t k, int parallelism) {
  if (n <= 0) return 0;
  const int64_t P = parallelism;
  if (k >= n) return ceil_div(n, P);
  Cycles c = 0;
  for (int64_t m = n;; m = ceil_div(m, 2)) {
    c += ceil_div(m, P) + 3;
    if (m <= P) break;
  }
  return c + ceil_div(k, P);
}

UnitWork detector_head_work(const DetectorActivity& a, int head_dim, const DetectorHw& hw) {
  UnitWork w;
  Cycles qk = 0;
  for (const auto& [rows, keys] : a.estimate_gemms) {
    const GemmTiming g = os_gemm(rows, keys, head_dim, hw.array_rows, hw.array_cols, hw.array_fold_drain);
    qk += g.cycles;
    w.macs += g.macs;
    w.pe_slots += g.pe_slots;
  }
  const Cycles softmax = a.probabilities ? ceil_div(a.probabilities, hw.lanes) + hw.softmax_latency : 0;
  const Cycles sums = ceil_div(a.sum_updates, 2 * static_cast<int64_t>(hw.lanes));
  Cycles pool = 0;
  if (a.pooled_blocks > 0) {
    pool = ceil_div(a.pooled_tokens * head_dim, static_cast<int64_t>(hw.array_rows) * hw.array_cols);
    const GemmTiming g = os_gemm(a.pooled_blocks, a.pooled_blocks, head_dim, hw.array_rows, hw.array_cols, hw.array_fold_drain);
    pool += g.cycles;
    w.macs += g.macs;
    w.pe_slots += g.pe_slots;
  }
  Cycles topk = 0;
  for (const auto& [n, k] : a.topks) topk += topk_cycles(n, k, hw.topk_parallelism);
  const Cycles select = ceil_div(a.candidate_entries, hw.lanes);
  const Cycles index = ceil_div(a.index_items, hw.index_lanes) + a.row_blocks;
  w.stages = {{"estimate_qk", qk}, {"softmax", softmax}, {"score_sums", sums}, {"block_pool", pool},
              {"topk", topk},      {"select", select},   {"index_build", index}};
  for (const auto& [name, c] : w.stages) w.cycles += c;
  w.counts = {{"estimation_rows", a.estimate_rows()},
              {"probabilities", a.probabilities},
              {"topk_selections", static_cast<int64_t>(a.topks.size())},
              {"candidates_evaluated", a.candidates_evaluated},
              {"index_items", a.index_items},
              // Operations for the energy model (own model: the top-k engine's
              // P comparators busy every cycle it runs; a compare per candidate entry).
              {"softmax_elements", a.probabilities},
              {"add_ops", a.sum_updates + a.pooled_tokens * head_dim},
              {"compare_ops", topk * hw.topk_parallelism + a.candidate_entries},
              {"index_ops", a.index_items}};
  return w;
}

UnitWork mask_emit_work(int64_t nnz, int emit_lanes) {
  UnitWork w;
  w.cycles = ceil_div(nnz, emit_lanes);
  w.stages = {{"mask_emit", w.cycles}};
  w.counts = {{"index_ops", nnz}};  // energy: an index per emitted entry
  return w;
}

void emit_tile_mask(const MaskPlan& plan, MaskJob& job) {
  if (job.known_mask) {
    job.prediction.mask = *job.known_mask;
    return;
  }
  if (job.structured) job.shape = tile_shape(plan, job.row0, job.rows);
  if (!job.shape) job.prediction.mask = plan.mask(job.row0, job.rows);
}

UnitWork tile_mask_work(const MaskJob& job, int emit_lanes, int block) {
  const TileShape* shape = job.shape ? &*job.shape : nullptr;
  const CsrMask& mask = job.prediction.mask;
  UnitWork work = mask_emit_work(shape ? shape->nnz() : mask.nnz(), emit_lanes);
  const BlockLabelCounts labels = shape ? label_blocks(*shape, block) : label_blocks(mask, job.row0, block);
  work.counts["blocks_empty"] = labels.empty;
  work.counts["blocks_full"] = labels.full;
  work.counts["blocks_causal"] = labels.causal;
  work.counts["blocks_partial"] = labels.partial;
  const int64_t rows = shape ? shape->rows : mask.rows, cols = shape ? shape->cols : mask.cols;
  work.sram_write_bytes["score"] = ceil_div(rows * cols, 8);  // mask bits
  return work;
}

}  // namespace attnsim
