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
};
HeadQuant quantize_head(const MatF& q, const MatF& k, int bits);

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
