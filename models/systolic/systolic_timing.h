#pragma once
// Output-stationary systolic array timing, fold by fold, as SCALE-Sim computes
// it (Samajdar et al., "A Systematic Methodology for Characterizing
// Scalability of DNN Accelerators using SCALE-Sim", ISPASS 2020, §III-B, OS
// dataflow): an M x N output is cut into ceil(M/R) x ceil(N/C) folds; each
// fold streams K operands with a skew across rows and columns, then drains its
// results, taking 2R + C + K - 2 cycles whatever its fill (a partial fold pays
// the full array's skew and drain).
#include <cstdint>

#include "common/jobs.h"
#include "common/timing.h"
#include "kernels/tensor.h"

namespace attnsim {

// One fold: R - 1 + C - 1 cycles of skew, K cycles of MACs, R cycles to drain.
Cycles os_fold_cycles(int rows, int cols, int64_t k);

struct GemmTiming {
  Cycles cycles = 0;
  int64_t folds = 0;
  int64_t macs = 0;      // useful multiply-accumulates
  int64_t pe_slots = 0;  // R * C * cycles
};

// A dense M x K by K x N GEMM.
GemmTiming os_gemm(int64_t m, int64_t n, int64_t k, int rows, int cols);

// Attention of one query tile on an R x C array (own model on top of the
// fold formula): QKᵀ folds whose block of the mask is empty are skipped; the
// softmax unit handles `lanes` kept scores per cycle after a fixed latency; PV
// folds stream only the keys of the row block's active QKᵀ folds. Buffer
// traffic: each fold reads its operand rows and columns once; the score tile
// is written, read and rewritten by softmax, then read by PV.
struct SystolicParams {
  int rows = 64, cols = 64, softmax_lanes = 64, softmax_latency = 8, divide_latency = 20;
  int bytes_per_element = 4;
};
UnitWork systolic_attention(const CsrMask& mask, int head_dim, const SystolicParams& p);

}  // namespace attnsim
