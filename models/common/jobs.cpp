#include "common/jobs.h"

namespace attnsim {

void compute_values(ComputeJob& job) {
  if (job.timing_only) return;
  if (job.shape) {  // the rows' keys from the structure; every row only when asked (O(entries))
    if (!job.value_rows) {
      job.result = masked_attention(*job.q_tile, *job.kv, job.shape->enumerate(), job.numerics);
      return;
    }
    CsrMask rows_mask;
    rows_mask.cols = job.shape->cols;
    std::vector<int32_t> keys;
    for (int r : *job.value_rows) {
      job.shape->row_keys(job.shape->row0 + r, keys);
      rows_mask.add_row(keys);
    }
    job.result = masked_attention_rows(*job.q_tile, *job.kv, rows_mask, *job.value_rows, job.numerics);
    return;
  }
  if (!job.value_rows) {
    job.result = masked_attention(*job.q_tile, *job.kv, *job.mask, job.numerics);
    return;
  }
  job.result = masked_attention_rows(*job.q_tile, *job.kv, select_rows(*job.mask, *job.value_rows), *job.value_rows,
                                     job.numerics);
}

}  // namespace attnsim
