#pragma once
// Output-stationary systolic array timing, fold by fold, as SCALE-Sim computes
// it: an M x N output is cut into ceil(M/R) x ceil(N/C) folds (M on the
// rows); each fold streams K operands with a skew across rows and columns, so
// PE (i, j) does its last MAC in cycle i + j + K - 1: R - 1 + C - 1 + K
// cycles whatever the fold's fill (a partial fold pays the full array's
// skew). How the results leave is the one choice the references differ on
// (FoldDrain, in systolic_config.h):
// * in_skew (SCALE-Sim v3, scalesim 3.0.0, compute/systolic_compute_os.py):
//   each PE's result leaves on its column's output bus in the cycle it is
//   done (a column's PEs finish in different cycles), so a fold costs
//   K + R + C - 2. SCALE-Sim reports the 0-based index of the last cycle,
//   folds * (K + R + C - 2) - 1 (tests/reference holds every case to it).
// * after_fold (SCALE-Sim v2, Samajdar et al., ISPASS 2020, §III-B): the
//   results shift out through the R array rows after the fold, 2R + C + K - 2
//   cycles a fold.
#include <cstdint>

#include "common/jobs.h"
#include "common/timing.h"
#include "kernels/tile_shape.h"
#include "systolic/systolic_config.h"
#include "kernels/tensor.h"

namespace attnsim {

// One fold: R - 1 + C - 1 cycles of skew and K cycles of MACs, plus R cycles
// of drain after_fold.
Cycles os_fold_cycles(int rows, int cols, int64_t k, FoldDrain drain = FoldDrain::in_skew);

struct GemmTiming {
  Cycles cycles = 0;
  int64_t folds = 0;
  int64_t macs = 0;      // useful multiply-accumulates
  int64_t pe_slots = 0;  // R * C * cycles
};

// A dense M x K by K x N GEMM.
GemmTiming os_gemm(int64_t m, int64_t n, int64_t k, int rows, int cols, FoldDrain drain = FoldDrain::in_skew);

// Attention of one query tile on an R x C array (own model on top of the
// fold formula): QKᵀ folds whose block of the mask is empty are skipped; the
// softmax unit handles `lanes` kept scores per cycle after a fixed latency; PV
// folds stream only the keys of the row block's active QKᵀ folds. Buffer
// traffic: each fold reads its operand rows and columns once; the score tile
// is written, read and rewritten by softmax, then read by PV.
UnitWork systolic_attention(const CsrMask& mask, int head_dim, const SystolicConfig& p, int bytes_per_element);
// The same from the tile's structure (identical numbers, without enumerating it).
UnitWork systolic_attention(const TileShape& mask, int head_dim, const SystolicConfig& p, int bytes_per_element);

}  // namespace attnsim
