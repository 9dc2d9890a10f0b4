#include "sanger/pack_split_encoder.h"

#include "sanger/sanger_timing.h"

namespace attnsim {

PackSplitEncoder::PackSplitEncoder(sc_core::sc_module_name name, const PackSplitConfig& config, int pes_per_row,
                                   double clock_ghz)
    : JobUnit<EncodeJob>(name, clock_ghz), config_(config), pes_per_row_(pes_per_row) {}

void PackSplitEncoder::run(EncodeJob& job) {
  job.schedule = job.shape ? pack_split(*job.shape, config_.segment_width, pes_per_row_)
                           : pack_split(*job.mask, config_.segment_width, pes_per_row_);
  job.work = encoder_tile(job.schedule, config_.segments_per_cycle);
  const int64_t rows = job.shape ? job.shape->rows : job.mask->rows, cols = job.shape ? job.shape->cols : job.mask->cols;
  job.work.sram_read_bytes = {{"score", ceil_div(rows * cols, 8)}};
  // index_ops (energy): a population count per row segment and an index per kept entry.
  job.work.counts = {{"skipped_row_segments", job.schedule.skipped_row_segments},
                     {"row_segments", job.schedule.row_segments},
                     {"index_ops", job.schedule.row_segments + job.schedule.nnz}};
}

}  // namespace attnsim
