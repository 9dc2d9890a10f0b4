#include "sanger/sanger_predictor.h"

#include "sanger/sanger_timing.h"

namespace attnsim {

SangerPredictor::SangerPredictor(sc_core::sc_module_name name, const SangerPredictorConfig& config, double clock_ghz)
    : JobUnit<MaskJob>(name, clock_ghz), config_(config) {}

void SangerPredictor::run(MaskJob& job) {
  if (job.known_mask) job.prediction.mask = *job.known_mask;
  else job.prediction = predict_tile(*job.quant, job.row0, job.rows, job.params);
  const int seq = static_cast<int>(job.quant->k.values.rows());
  const int d = static_cast<int>(job.quant->k.values.cols());
  int64_t allowed = 0;  // probabilities the softmax unit evaluates
  for (int i = 0; i < job.rows; ++i) allowed += job.params.causal ? std::min(seq, job.row0 + i + 1) : seq;
  job.work = predictor_tile(job.rows, static_cast<int>(allowed), seq, d, config_.array.rows, config_.array.cols,
                            config_.softmax_lanes, config_.softmax_latency_cycles, config_.array.fold_drain);
  // Low-bit operands: bits/8 bytes per element, read once per fold row/column.
  const double ebytes = config_.bits / 8.0;
  job.work.sram_read_bytes = {{"q", static_cast<int64_t>(job.rows * d * ebytes + 0.5)},
                              {"k", static_cast<int64_t>(static_cast<double>(seq) * d * ebytes *
                                                         ceil_div(job.rows, config_.array.rows) + 0.5)}};
  job.work.sram_write_bytes = {{"score", ceil_div(static_cast<int64_t>(job.rows) * seq, 8)}};  // mask bits
  job.k_keys_read = seq;  // the low-bit QKᵀ of every tile reads all of K
}

}  // namespace attnsim
