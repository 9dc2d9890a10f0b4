#pragma once
// "sanger": Sanger's predicted sparse attention (MICRO'21), fp32 exact path.
//  quantise      symmetric bits-bit quantisation of Q and K (round half to
//                even, clamp). Two recipes, chosen by the dump's params:
//                * first recipe (neither normalize_qk nor quant_scope in
//                  params): absmax per head (CUB block reduction), scales and
//                  codes in double;
//                * float32 recipe (either present; Sanger's public code):
//                  with normalize_qk = inner_product every Q and K row is
//                  divided by its float32 L2 norm first; absmax per head
//                  (quant_scope = head) or per layer (= layer: all groups of
//                  a layer); s = float(float(1/absmax) * qmax), codes =
//                  clamp(rint(float(x * s))), all in IEEE float32 (no FMA).
//  int8_gemm     Q_q K_q^T, cuBLAS int8 GEMM with int32 accumulation
//  softmax       first recipe: pred = acc * float(scale / (s_q * s_k)), fp32
//                row softmax; float32 recipe: pred = acc / (s_q * s_k)
//                [* |q_i| |k_j|] * scale and the row softmax in double
//  threshold_csr mask = pred_prob > threshold (float32 recipe: the double
//                probability > double(float(threshold))) + row argmax if
//                keep_row_max: count kernel + CUB exclusive scan + fill kernel
//  sddmm         cuSPARSE SDDMM: scores = scale * (Q K^T) on the mask (fp32 Q, K)
//  csr_softmax   softmax over each CSR row (own kernel); with row_max =
//                predictor it subtracts the row's largest kept predicted
//                score (rounded to a fixed-point number_format; exp saturated
//                at a fixed-point prob_format's largest value)
//  spmm          cuSPARSE SpMM: output = probs (CSR) x V
#include "algorithms/algorithm.h"

namespace gpu_ref {
const Algorithm& sanger_algorithm();
}
