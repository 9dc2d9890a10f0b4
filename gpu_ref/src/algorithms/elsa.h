#pragma once
// "elsa": ELSA's candidate selection (Ham et al., ISCA 2021; docs/elsa.md),
// the rule of src/kernels/elsa.h bit for bit, then the exact attention on the
// selected keys.
//  hash         k-bit sign hashes of every Q and K row with the dump's
//               projection (params.projection, k x d float32): bit t = 1 iff
//               sum_j double(A[t][j]) * double(x[j]) >= 0, j in order,
//               __dmul_rn / __dadd_rn (no FMA); one warp per (row, 64-bit
//               word), two ballots per word. Norms sqrt(sum_j x_j^2) likewise
//               (__dsqrt_rn), one thread per row.
//  select_csr   one warp per query row: H_ij = popcount(q_i ^ k_j),
//               e_ij = double(c[H_ij]) * |k_j|, m_i = max over the allowed keys
//               (causal: j <= i), keep j iff ((m_i - e_ij) * |q_i|) * scale /
//               32768 <= log_inv_p (each operation IEEE double, round to
//               nearest). Count kernel + CUB exclusive scan + fill kernel
//               (warp ballot: columns come out sorted).
//  sddmm, csr_softmax, spmm   as "sanger" (common/sparse_attention, exact fp32)
#include "algorithms/algorithm.h"

namespace gpu_ref {
const Algorithm& elsa_algorithm();
}
