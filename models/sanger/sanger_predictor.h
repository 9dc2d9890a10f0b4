#pragma once
// Sanger's prediction unit: low-bit QKᵀ on its own dense array, softmax and
// threshold into the tile's mask (values: kernels/sanger_predict.h, latency:
// sanger_timing.h). It quantises each head's Q and K on the head's first
// tile, with one absmax per layer (over the layer's heads) or per head.
#include "common/compute_unit.h"
#include "kernels/sanger_predict.h"
#include "sanger/sanger_config.h"

namespace attnsim {

class SangerPredictor : public JobUnit<MaskJob> {
 public:
  SangerPredictor(sc_core::sc_module_name name, const SangerPredictorConfig& config, double clock_ghz);
  std::optional<int64_t> pe_count() const override { return static_cast<int64_t>(config_.array.rows) * config_.array.cols; }

 protected:
  void run(MaskJob& job) override;

 private:
  void quantise_head(const MaskJob& job);
  SangerPredictorConfig config_;
  HeadQuant quant_;  // the current head's
  // quant_scope = layer: the rows of the layer's heads as the predictor
  // quantises them and their absmax, for one (layer, batch element).
  std::pair<int, int> head_key_{-1, -1};   // (layer, head_index) quant_ belongs to
  std::pair<int, int> layer_key_{-1, -1};
  std::vector<QkRows> layer_rows_;
  float layer_absmax_q_ = 0, layer_absmax_k_ = 0;
};

}  // namespace attnsim
