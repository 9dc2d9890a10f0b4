#pragma once
// Symmetric n-bit linear quantisation (Sanger §3.1, public code
// modeling_sanger_spattn.py): scale = (2^(n-1)-1) / absmax, round to nearest
// (ties to even, as torch.round), clamp to +-(2^(n-1)-1).
#include "kernels/tensor.h"

namespace attnsim {

struct Quantized {
  MatI8 values;
  double scale = 1.0;  // real value = values / scale
};

Quantized quantize_symmetric(const MatF& x, int bits);

// Rounds every element of a matrix to a number format, in place.
struct NumberFormat;
void round_to_format(MatD& x, const NumberFormat& f);

}  // namespace attnsim
