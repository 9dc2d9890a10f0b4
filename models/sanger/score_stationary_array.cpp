#include "sanger/score_stationary_array.h"

#include "sanger/sanger_timing.h"

namespace attnsim {

ScoreStationaryArray::ScoreStationaryArray(sc_core::sc_module_name name, const ScoreStationaryConfig& config,
                                           int segment_width, double clock_ghz)
    : JobUnit<ComputeJob>(name, clock_ghz), config_(config), segment_width_(segment_width) {}

void ScoreStationaryArray::run(ComputeJob& job) {
  const int d = static_cast<int>(job.q_tile->cols());
  if (config_.row_max == RowMaxSource::predictor && job.predicted_row_max) job.numerics.row_max = job.predicted_row_max;
  compute_values(job);
  const int64_t rows = job.shape ? job.shape->rows : job.mask->rows, cols = job.shape ? job.shape->cols : job.mask->cols;
  job.work = score_stationary_tile(*job.schedule, static_cast<int>(rows), d, config_);
  // Buffer traffic (own model): each pass streams its K segment (twice with
  // a row-maximum pass) and its V segment once down the array; each sub-row
  // reads its Q row (twice with a row-maximum pass), and reads and writes its
  // d partial outputs in the output buffer.
  const int64_t b = job.numerics.data.bytes();
  const int64_t passes = job.work.counts["passes"], subrows = job.schedule->subrows;
  const int64_t seg_bytes = static_cast<int64_t>(segment_width_) * d * b;
  const int64_t reads = config_.row_max == RowMaxSource::pass ? 2 : 1;
  job.work.sram_read_bytes = {{"q", reads * subrows * d * b}, {"k", reads * passes * seg_bytes},
                              {"v", passes * seg_bytes}, {"output", subrows * d * b}};
  job.work.sram_write_bytes = {{"output", subrows * d * b}};
  // Scores stay in the PEs: only the mask occupies the score buffer.
  job.score_buffer_bytes = ceil_div(rows * cols, 8);
}

}  // namespace attnsim
