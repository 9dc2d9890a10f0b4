#include "common/jobs.h"

namespace attnsim {

void compute_values(ComputeJob& job) {
  if (job.timing_only) return;
  if (!job.value_rows) {  // every row: a structured mask is listed for it (O(entries))
    if (job.shape)
      job.result = masked_attention(*job.q_tile, *job.kv, job.shape->enumerate(), job.numerics);
    else
      job.result = masked_attention(*job.q_tile, *job.kv, *job.mask, job.numerics);
    return;
  }
  CsrMask rows_mask;
  if (job.shape) {  // the rows' keys from the structure
    rows_mask.cols = job.shape->cols;
    std::vector<int32_t> keys;
    for (int r : *job.value_rows) {
      job.shape->row_keys(job.shape->row0 + r, keys);
      rows_mask.add_row(keys);
    }
  } else {
    rows_mask = select_rows(*job.mask, *job.value_rows);
  }
  job.result = masked_attention_rows(*job.q_tile, *job.kv, rows_mask, *job.value_rows, job.numerics);
}

}  // namespace attnsim
