#include "sanger/score_stationary_array.h"

#include "sanger/sanger_timing.h"

namespace attnsim {

ScoreStationaryArray::ScoreStationaryArray(sc_core::sc_module_name name, const PeArrayConfig& config,
                                           int segment_width, double clock_ghz)
    : JobUnit<ComputeJob>(name, clock_ghz), config_(config), segment_width_(segment_width) {}

void ScoreStationaryArray::run(ComputeJob& job) {
  const int d = static_cast<int>(job.q_tile->cols());
  if (!job.timing_only) job.result = masked_attention(*job.q_tile, *job.kv, *job.mask, job.numerics);
  ScoreStationaryParams p;
  p.rows = config_.rows;
  p.pes_per_row = config_.pes_per_row;
  p.segment_width = segment_width_;
  p.head_dim = d;
  p.clear_cycles = config_.clear_cycles;
  p.switch_cycles = config_.switch_cycles;
  p.exp_latency_cycles = config_.exp_latency_cycles;
  p.io_latency_cycles = config_.io_latency_cycles;
  p.divide_latency_cycles = config_.divide_latency_cycles;
  p.sweep_sync = config_.sweep_sync;
  p.row_max_pass = config_.row_max == RowMaxSource::pass;
  job.work = score_stationary_tile(*job.schedule, job.mask->rows, p);
  // Buffer traffic (own model): each pass streams its K segment (twice with
  // a row-maximum pass) and its V segment once down the array; each sub-row
  // reads its Q row (twice with a row-maximum pass), and reads and writes its
  // d partial outputs in the output buffer.
  const int64_t b = job.numerics.data.bytes();
  const int64_t passes = job.work.counts["passes"], subrows = job.schedule->subrows;
  const int64_t seg_bytes = static_cast<int64_t>(segment_width_) * d * b;
  const int64_t reads = p.row_max_pass ? 2 : 1;
  job.work.sram_read_bytes = {{"q", reads * subrows * d * b}, {"k", reads * passes * seg_bytes},
                              {"v", passes * seg_bytes}, {"output", subrows * d * b}};
  job.work.sram_write_bytes = {{"output", subrows * d * b}};
  // Scores stay in the PEs: only the mask occupies the score buffer.
  job.score_buffer_bytes = ceil_div(static_cast<int64_t>(job.mask->rows) * job.mask->cols, 8);
}

}  // namespace attnsim
