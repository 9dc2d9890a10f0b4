#include "common/jobs.h"

namespace attnsim {

void compute_values(ComputeJob& job) {
  if (job.timing_only) return;
  if (!job.value_rows) {
    job.result = masked_attention(*job.q_tile, *job.kv, *job.mask, job.numerics);
    return;
  }
  job.result = masked_attention_rows(*job.q_tile, *job.kv, select_rows(*job.mask, *job.value_rows), *job.value_rows,
                                     job.numerics);
}

}  // namespace attnsim
