#pragma once
// Sanger's sparsity prediction (MICRO'21 §3.1; public code
// modeling_sanger_spattn.py): symmetric low-bit quantisation of Q and K,
// low-bit scores Q̂K̂ᵀ rescaled and divided by sqrt(d), softmax, threshold.
#include "kernels/quantize.h"
#include "kernels/tensor.h"

namespace attnsim {

struct PredictorParams {
  int bits = 4;
  double threshold = 2e-3;
  // Our choice: a row whose every predicted probability is <= threshold would
  // attend to nothing; keep its argmax (first on ties) so the row stays valid.
  bool keep_row_max = true;
  bool causal = false;
  double scale = 1.0;  // 1/sqrt(head_dim)
};

struct HeadQuant {
  Quantized q, k;
  // normalize_qk = inner_product: each row's L2 norm (the prediction
  // multiplies a score back by both); empty: no normalisation.
  std::vector<float> q_norm, k_norm;
  // The float32 recipe of Sanger's code (below) rather than attnsim's first
  // double-precision one: set by quantize_head_sanger.
  bool sanger_recipe = false;
};
// attnsim's first recipe: raw Q and K, one absmax per head, double scales.
HeadQuant quantize_head(const MatF& q, const MatF& k, int bits);

// Sanger's public code (hatsu3/Sanger, modeling_sanger_spattn.py and
// quant_utils.py; tests/reference/facts/sanger_minilm.json holds its masks):
// * normalize_qk = inner_product: every Q and K row divided by its L2 norm,
//   computed in float32 as torch's CPU kernel sums it (8 lane accumulators
//   over the row, elements l, l + 8, l + 16, ... into lane l, then the lanes
//   left to right), the product multiplied back by ||q|| ||k|| later;
// * one absmax per scope (`absmax_q`, `absmax_k`: of the layer's normalised
//   Q and K over all heads with quant_scope = layer, of the head's with head);
// * scale s = float(float(1 / absmax) * qmax), codes round-half-even of
//   float(x * s), clamped to +-qmax; predicted scores and softmax in double,
//   kept iff P > float(threshold).
struct QkRows {
  MatF q, k;                       // normalised when norms are taken
  std::vector<float> q_norm, k_norm;
};
QkRows predictor_rows(const MatF& q, const MatF& k, bool normalize);
float l2_norm_f32(const float* x, int d);
float absmax_f32(const MatF& x);
HeadQuant quantize_head_sanger(const QkRows& rows, int bits, float absmax_q, float absmax_k);

struct Prediction {
  MatF scores;  // predicted scores Ŝ, tile rows x keys
  MatF probs;   // predicted probabilities P̂ (fp32 softmax)
  CsrMask mask; // P̂ > threshold
  // Per row: the largest predicted score it keeps, what the array subtracts
  // before its exp unit with pe_array.row_max = predictor (empty row: 0).
  std::vector<float> row_max;
  // Query rows still computed (0: pruned away, e.g. by SpAtten); empty: all.
  std::vector<char> row_active;
};

// Predicts the mask of query rows [row0, row0 + rows) of a head.
Prediction predict_tile(const HeadQuant& hq, int row0, int rows, const PredictorParams& p);

}  // namespace attnsim
