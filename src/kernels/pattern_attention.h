#pragma once
// masked_attention (kernels/attention.h) for masks whose rows share their
// keys — the block layouts of structured patterns (MInference's key blocks,
// local-stride blocks, A-shape windows): the same values, computed with two
// dense GEMMs over the union of the tile's keys (scores Q·K_uᵀ, then E·V_u)
// instead of one dot product and one AXPY per kept entry. Fixed-point
// results are identical (exact products, sums below 2^53); fp32 ones can
// differ in the last bit, as masked_attention's own sparse and dense paths do.
// When the union is much larger than the rows' keys (scattered masks) it
// falls back to masked_attention.
#include "kernels/attention.h"

namespace attnsim {

// Keys in the union of the mask's rows, ascending.
std::vector<int32_t> mask_key_union(const CsrMask& mask);

// Uses the union GEMMs when nnz >= min_fill * rows * |union|, else masked_attention.
MaskedAttention masked_attention_union(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask,
                                       const AttentionNumerics& num, double min_fill = 0.25);

}  // namespace attnsim
