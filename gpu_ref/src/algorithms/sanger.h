#pragma once
// "sanger": Sanger's predicted sparse attention (MICRO'21), fp32 exact path.
//  quantise      absmax per head (CUB block reduction) + symmetric bits-bit
//                quantisation of Q and K (round half to even, clamp)
//  int8_gemm     Q_q K_q^T, cuBLAS int8 GEMM with int32 accumulation
//  softmax       pred = acc * float(scale / (s_q * s_k)); fp32 row softmax
//  threshold_csr mask = pred_prob > threshold (+ row argmax if keep_row_max):
//                count kernel + CUB exclusive scan + fill kernel -> CSR
//  sddmm         cuSPARSE SDDMM: scores = scale * (Q K^T) on the mask (fp32 Q, K)
//  csr_softmax   softmax over each CSR row (own kernel)
//  spmm          cuSPARSE SpMM: output = probs (CSR) x V
#include "algorithms/algorithm.h"

namespace gpu_ref {
const Algorithm& sanger_algorithm();
}
