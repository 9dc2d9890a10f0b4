#pragma once
// Latency formulas of the DynamiQK mask units (docs/dynamiqk.md, docs/model_notes.md).
// Each cites its source or says "own model"; tests: tests/models/test_dynamiqk_timing.cpp.
#include <cstdint>

#include "common/jobs.h"
#include "common/timing.h"
#include "systolic/systolic_config.h"
#include "kernels/pattern_detect.h"

namespace attnsim {

struct DetectorHw {
  int array_rows = 32, array_cols = 32;  // the estimation array (output stationary)
  FoldDrain array_fold_drain = FoldDrain::in_skew;
  int lanes = 32;                        // softmax / accumulate / compare lanes: probabilities per cycle
  int softmax_latency = 8;
  int topk_parallelism = 16;             // comparators of the quick-select engine (SpAtten's P)
  int index_lanes = 16;                  // indices merged per cycle while building the layout
  int emit_lanes = 64;                   // mask entries written per cycle
};

// Top-k by quick-select on SpAtten's engine (REFERENCE.md: each round costs
// ceil(n / P) + 3 cycles over the n remaining candidates). Own model on top:
// a round halves the candidates, rounds continue until at most P remain (one
// last round), then the k winners stream out at P per cycle. k >= n: no
// selection, the n indices stream out: ceil(n / P).
Cycles topk_cycles(int64_t n, int64_t k, int parallelism);

// One head's detection (own model on MInference's estimation, see
// DetectorActivity): stages
//   estimate_qk   Σ SCALE-Sim output-stationary folds of each estimation GEMM
//                 (rows x keys x d) on the array (as Sanger's prediction unit);
//   softmax       ceil(probabilities / lanes) + softmax_latency;
//   score_sums    ceil(sum_updates / (2 lanes)): a column adder and a diagonal adder per lane;
//   block_pool    ceil(pooled_tokens * d / (R C)) pooling adds on the array's
//                 adders, then the nb x nb x d pooled GEMM's folds;
//   topk          Σ topk_cycles over the selections;
//   select        ceil(candidate_entries / lanes): each candidate's masked sum
//                 streams the evaluation rows' probabilities once;
//   index_build   ceil(index_items / index_lanes) + row_blocks: MInference's
//                 two-pointer merge of the indices, per row block.
UnitWork detector_head_work(const DetectorActivity& a, int head_dim, const DetectorHw& hw);

// Writing one tile's mask (own model): ceil(nnz / emit_lanes) cycles.
UnitWork mask_emit_work(int64_t nnz, int emit_lanes);

// The tile's mask from a plan into the job: the cached one (functional
// cache), its structure (job.structured, where the plan has one), else CSR.
void emit_tile_mask(const MaskPlan& plan, MaskJob& job);
// Emitting the job's mask (mask_emit_work), its FlexAttention block labels
// (counts blocks_*) and the mask bits written to the score buffer.
UnitWork tile_mask_work(const MaskJob& job, int emit_lanes, int block);

}  // namespace attnsim
