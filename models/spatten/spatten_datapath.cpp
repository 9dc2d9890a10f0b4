#include "spatten/spatten_datapath.h"

#include <algorithm>

#include "kernels/spatten.h"
#include "spatten/spatten_timing.h"

namespace attnsim {

SpattenDatapath::SpattenDatapath(sc_core::sc_module_name name, const SpattenDatapathConfig& config, double clock_ghz)
    : JobUnit<ComputeJob>(name, clock_ghz), config_(config) {}

void SpattenDatapath::run(ComputeJob& job) {
  const CsrMask& mask = *job.mask;
  const int d = static_cast<int>(job.q_tile->cols());
  const std::vector<char> all_active;
  const std::vector<char>& active = job.row_active ? *job.row_active : all_active;
  SpattenNumerics num;
  num.base = job.numerics;
  num.base.probabilities = true;  // requantisation and local V pruning read them
  num.msb_bits = config_.msb_bits;
  num.requant_threshold = config_.requant_threshold;
  num.v_keep = config_.v_keep;
  num.topk_parallelism = config_.topk_parallelism;
  num.topk_pivot = config_.topk_pivot;
  if (job.row0 == 0 || job.kv != msb_source_) {  // a new head (tiles come in order): truncate its keys once
    msb_ = msb_operands(*job.kv, job.numerics.data, config_.msb_bits);
    msb_source_ = job.kv;
  }
  num.msb_operands = &msb_;
  std::vector<SpattenRow> rows(mask.rows);
  SpattenTile tile;
  if (!job.timing_only) {
    tile = spatten_attention(*job.q_tile, *job.kv, mask, active, num);
    job.result = tile.attention;
    job.row_requantised = tile.row_requantised;
    job.row_top_prob = tile.row_top_prob;
  }
  // Which rows were recomputed and how many V rows each used come from the
  // values (SpAtten runs never take the functional cache's timing-only path).
  const std::vector<char> requant = job.timing_only ? std::vector<char>(mask.rows, 0) : tile.row_requantised;
  for (int i = 0; i < mask.rows; ++i) {
    if (!active.empty() && !active[i]) continue;
    rows[i].keys = mask.row_nnz(i);
    rows[i].v_rows = config_.v_keep < 1.0 ? std::max(1, static_cast<int>(std::ceil(config_.v_keep * rows[i].keys)))
                                          : rows[i].keys;
    if (rows[i].keys == 0) rows[i].v_rows = 0;
    rows[i].requantised = requant[i];
    rows[i].topk_cycles = job.timing_only ? 0 : tile.row_topk_cycles[i];
  }
  job.work = spatten_tile_timing(rows, d, config_, !config_.drain_per_layer || job.layer != drained_layer_);
  if (job.work.stages["fill_drain"] > 0) drained_layer_ = job.layer;
  // Bits fetched (progressive quantisation): the MSBs of every needed key,
  // and the LSBs too when some row of the tile was recomputed.
  const int width = job.numerics.data.width;
  const bool any_requant = job.work.counts["rows_requantised"] > 0;
  job.k_fetch_scale = job.numerics.data.is_fixed()
                          ? static_cast<double>(any_requant ? width : std::min(width, config_.msb_bits)) / width
                          : 1.0;
  std::vector<char> used(mask.cols, 0);
  for (int c : mask.indices) used[c] = 1;
  const int64_t distinct_keys = std::count(used.begin(), used.end(), 1);
  if (!job.timing_only && distinct_keys)
    job.v_fetch_scale = static_cast<double>(tile.v_rows_fetched) / static_cast<double>(distinct_keys);
  // K bits the tile fetches: every distinct key of the mask, MSBs only or full width.
  job.work.counts["k_bits_fetched"] = distinct_keys * d * static_cast<int64_t>(job.k_fetch_scale * width + 0.5);
  job.work.counts["tiles_fetching_lsbs"] = any_requant ? 1 : 0;
  // The local-V top-k engine's comparisons (energy, own model: all P comparators busy every cycle it runs).
  job.work.counts["compare_ops"] = job.work.counts["topk_v_cycles"] * config_.topk_parallelism;
  const int64_t b = job.numerics.data.bytes();
  int64_t key_reads = 0, v_reads = 0;
  for (const auto& r : rows) key_reads += r.keys, v_reads += r.v_rows;
  job.work.sram_read_bytes = {{"q", job.work.counts["rows_active"] * d * b}, {"k", key_reads * d * b}, {"v", v_reads * d * b}};
  job.work.sram_write_bytes = {{"output", job.work.counts["rows_active"] * d * b}};
  job.score_buffer_bytes = 0;  // scores stream through the softmax pipeline
}

}  // namespace attnsim
