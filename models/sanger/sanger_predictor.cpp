#include "sanger/sanger_predictor.h"

#include "sanger/sanger_timing.h"

#include <algorithm>

namespace attnsim {

SangerPredictor::SangerPredictor(sc_core::sc_module_name name, const SangerPredictorConfig& config, double clock_ghz)
    : JobUnit<MaskJob>(name, clock_ghz), config_(config) {}

void SangerPredictor::quantise_head(const MaskJob& job) {
  const HeadTensors& head = *job.head;
  if (!config_.normalize_qk && !config_.quant_scope_layer) {
    quant_ = quantize_head(head.q, head.k, config_.bits);  // attnsim's first recipe
    return;
  }
  if (!config_.quant_scope_layer || !job.layer_heads) {
    const QkRows rows = predictor_rows(head.q, head.k, config_.normalize_qk);
    quant_ = quantize_head_sanger(rows, config_.bits, absmax_f32(rows.q), absmax_f32(rows.k));
    return;
  }
  // One absmax over the layer's heads (of this batch element), as Sanger's code.
  const int heads = static_cast<int>(job.layer_heads->size());
  const std::pair<int, int> key{job.layer, job.head_index / heads};
  if (key != layer_key_) {
    layer_key_ = key;
    layer_rows_.clear();
    layer_absmax_q_ = layer_absmax_k_ = 0;
    for (const auto& h : *job.layer_heads) {
      layer_rows_.push_back(predictor_rows(h.q, h.k, config_.normalize_qk));
      layer_absmax_q_ = std::max(layer_absmax_q_, absmax_f32(layer_rows_.back().q));
      layer_absmax_k_ = std::max(layer_absmax_k_, absmax_f32(layer_rows_.back().k));
    }
  }
  quant_ = quantize_head_sanger(layer_rows_[job.head_index % heads], config_.bits, layer_absmax_q_, layer_absmax_k_);
}

void SangerPredictor::run(MaskJob& job) {
  if (head_key_ != std::make_pair(job.layer, job.head_index)) {  // a new head
    quantise_head(job);
    head_key_ = {job.layer, job.head_index};
  }
  job.quant = &quant_;
  PredictorParams pp;
  pp.causal = job.causal;
  pp.scale = job.scale;
  pp.bits = config_.bits;
  pp.threshold = config_.threshold;
  pp.keep_row_max = config_.keep_row_max;
  if (job.known_mask) job.prediction.mask = *job.known_mask;
  else job.prediction = predict_tile(quant_, job.row0, job.rows, pp);
  const int seq = static_cast<int>(quant_.k.values.rows());
  const int d = static_cast<int>(quant_.k.values.cols());
  int64_t allowed = 0;  // probabilities the softmax unit evaluates
  for (int i = 0; i < job.rows; ++i) allowed += job.causal ? std::min(seq, job.row0 + i + 1) : seq;
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
