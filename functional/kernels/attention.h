#pragma once
// Attention over a mask, as the PE arrays compute it: SDDMM (scores only at
// kept positions), softmax over each row's kept scores, SpMM with V.
#include <vector>

#include "kernels/number_format.h"
#include "kernels/softmax.h"
#include "kernels/tensor.h"

namespace attnsim {

struct AttentionNumerics {
  NumberFormat data;   // Q, K, V, scores and output
  NumberFormat prob;   // exponentials and probabilities
  ExpUnit exp;
  double scale = 1.0;  // 1/sqrt(head_dim)
  // Fill MaskedAttention::probs (dumps, validation, SpAtten's pruner); the
  // output does not need them, and they cost a division per kept entry.
  bool probabilities = true;
  // Per tile row, the maximum subtracted before the exp unit, rounded to
  // `data` (Sanger's row_max = predictor: the predictor's low-bit row
  // maximum); null: each row's own maximum kept score. A score above it gives
  // exp > 1, which saturates where `prob` ends (MaskedAttention::exp_saturated).
  const std::vector<float>* row_max = nullptr;
};

using MatI16 = Eigen::Matrix<int16_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// K and V of a head rounded once to the datapath's format (double holds both
// fp32 and fixed-point values exactly). For fixed point of at most 16 bits
// also their integer codes (value = code * 2^-code_frac), which
// masked_attention computes on: K and V (keys x d) and Vᵀ (d x keys).
struct HeadOperands {
  MatD k, v;
  MatI16 k_codes, v_codes, vt_codes;
  int code_frac = -1;  // -1: no codes
  int k_code_max = 0, v_code_max = 0;  // largest |code|
};
HeadOperands prepare_operands(const MatF& k, const MatF& v, const NumberFormat& data);
// (Re)builds the codes from k and v, already rounded to `data` (after
// changing them); clears them where the format has none.
void encode_operands(HeadOperands& h, const NumberFormat& data);

struct MaskedAttention {
  std::vector<float> scores;  // CSR values, in mask order
  std::vector<float> probs;   // CSR values, in mask order
  MatF output;                // rows x head_dim
  int64_t exp_saturated = 0;  // kept entries whose exp exceeded the prob format (row_max given only)
};

// The maximum that row i's exponentials subtract (see AttentionNumerics::row_max).
inline double exp_offset(const AttentionNumerics& num, int row, double own_max) {
  return num.row_max ? num.data.round((*num.row_max)[row]) : own_max;
}
// exp(s - m) rounded to the prob format, counting a saturation.
inline double exp_of_score(const AttentionNumerics& num, double s, double m, int64_t& saturated) {
  const double x = num.exp(s - m);
  if (num.prob.is_fixed() && x > num.prob.max_value()) ++saturated;
  return num.prob.round(x);
}

// q_tile: the tile's query rows (rounded to numerics.data here); kv: the
// head's prepared K and V; mask: one CSR row per query row. Per row: scores
// s = round(q·k * scale) (exact products of the rounded operands), e =
// round_prob(exp(s - max s)), z = Σe, output = round(Σ e·v / z) — the
// division comes last, as in the array. probs = round_prob(e / z) is reported
// for validation (unless numerics.probabilities is false: probs stays empty).
// A row with an empty mask outputs zeros. Fixed-point formats of at most 16
// bits run on integer codes (attention_codes.h), others in double; either
// way the cost is O(kept entries · d).
MaskedAttention masked_attention(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask,
                                 const AttentionNumerics& num);

// The same for some rows of the tile only (what a sampled accuracy check
// reads): rows_mask holds the mask rows of `rows` (tile-relative, ascending),
// in that order. The output has every tile row; rows not listed stay zero.
// No probabilities or scores (a reader of those needs every row).
MaskedAttention masked_attention_rows(const MatF& q_tile, const HeadOperands& kv, const CsrMask& rows_mask,
                                      const std::vector<int>& rows, const AttentionNumerics& num);
// The mask rows `rows` of `mask`, in that order.
CsrMask select_rows(const CsrMask& mask, const std::vector<int>& rows);

// Dense fp32 attention for rows [row0, row0 + q_tile.rows()): the reference
// that accuracy and recall are measured against.
struct DenseReference {
  MatF probs;
  MatF output;
};
DenseReference dense_reference(const MatF& q_tile, const MatF& k, const MatF& v, double scale, bool causal,
                               int row0);
// The same for scattered query rows (sampled accuracy): q_rows.row(i) is query rows[i].
DenseReference dense_reference(const MatF& q_rows, const MatF& k, const MatF& v, double scale, bool causal,
                               const std::vector<int>& rows);

}  // namespace attnsim
