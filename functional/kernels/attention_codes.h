#pragma once
// masked_attention on the integer codes of fixed-point operands (value =
// code * 2^-frac, formats of at most 16 bits): scores, exponentials, exp sums
// and Σe·v are integers, so they are summed exactly in int32/int64 — the same
// values as the double arithmetic of the definition (which is exact for such
// formats), in any order. Cost O(kept entries · d): the scores are one int16
// dot product per kept entry (the compiler turns them into SSE2 pmaddwd);
// Σe·v is either a dot product of the tile's exponentials with Vᵀ over the
// union of the tile's keys (masks whose rows share their keys: block layouts,
// dense and causal tiles) or one multiply-add row per kept entry (scattered
// masks). Called by masked_attention (attention.h) when it applies.
#include "kernels/attention.h"

namespace attnsim {

// Whether the integer path computes this job: data and probability formats
// fixed point of at most 16 bits, and the operands' codes made for the data
// format.
bool codes_apply(const HeadOperands& kv, const AttentionNumerics& num);

MaskedAttention masked_attention_codes(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask,
                                       const AttentionNumerics& num);

}  // namespace attnsim
