#include "systolic/systolic_array.h"

#include "systolic/systolic_timing.h"

namespace attnsim {

SystolicArray::SystolicArray(sc_core::sc_module_name name, const SystolicConfig& config, double clock_ghz)
    : JobUnit<ComputeJob>(name, clock_ghz), config_(config) {}

void SystolicArray::run(ComputeJob& job) {
  const int d = static_cast<int>(job.q_tile->cols());
  compute_values(job);
  job.work = job.shape ? systolic_attention(*job.shape, d, config_, job.numerics.data.bytes())
                       : systolic_attention(*job.mask, d, config_, job.numerics.data.bytes());
  // The score tile of the active folds sits in the score buffer.
  job.score_buffer_bytes = job.work.sram_write_bytes["score"] / 2;
}

}  // namespace attnsim
