#pragma once
// "pattern_detector": DynamiQK's online pattern detection per head
// (MInference / MMInference, as src/kernels/pattern_detect.cpp), the index
// building to a CSR mask and the sparse attention on it, on the GPU
// (gpu_ref/README.md).
//  estimate   last_q (and evaluation) query rows x all keys, causal softmax (cuBLAS SGEMM + own kernel)
//  detect     column and diagonal sums (own kernel), top-k by CUB segmented sort, mean-pooled block
//             scores (cuBLAS), candidate layouts (MInference's index conversion, one thread per row
//             block), budget fitting, kept-mass comparison and the boundary choice
//  mask_csr   the chosen plan's keys per row -> CSR (count kernel + CUB scan + fill kernel)
//  sddmm, csr_softmax, spmm   as "sanger"
#include "algorithms/algorithm.h"

namespace gpu_ref {
const Algorithm& pattern_detector_algorithm();
}
