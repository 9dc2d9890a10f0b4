#pragma once
// "dense": full attention, fp32. QK^T (cuBLAS SGEMM, batched over heads,
// alpha = scale), row softmax (own kernel, causal if params.causal),
// PV (cuBLAS SGEMM) -> output [L, G, S, D].
#include "algorithms/algorithm.h"

namespace gpu_ref {
const Algorithm& dense_algorithm();
}
