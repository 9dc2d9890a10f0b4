#pragma once
// Latency formulas of the Sanger units (MICRO'21). Each cites its source.
#include <vector>

#include "common/jobs.h"
#include "sanger/sanger_config.h"
#include "kernels/pack_split.h"

namespace attnsim {

// Own model of one SDDMM (or SpMM) sweep, from the dataflow of pe_row.scala
// (REFERENCE.md, "Score-stationary array"): K (then V) enters as a wavefront
// skewed by one cycle per column offset and per array row, so array row r's
// PE holding column offset c does its d MACs in cycles r + c .. r + c + d - 1;
// Q (partial sums for SpMM) wait in the bubble delay buffer between PEs. The
// sweep ends when the slowest row's last PE is done, plus io_latency cycles
// of operand/result registers. Check: the paper's 8x8 test tile (d = 8) gives
// 7 + 7 + 8 + 2 = 24 cycles; a dense 64x64 tile with d = 64 gives 192 per
// pass, 4 passes = 768, as the repository's cost model (bench_sanger_v2.py).
// `last_cols` holds, per array row used, its sub-row's last column offset.
Cycles sweep_cycles(const std::vector<int>& last_cols, int head_dim, int io_latency);
// The wavefront's skew in that sweep: max_r (r + last_col_r), the cycles
// between the first PE's start and the slowest PE's start.
Cycles wave_skew(const std::vector<int>& last_cols);

// One pass of up to `rows` sub-rows through the array: clear, SDDMM, switch,
// exp, SpMM, then shifting out the P partial sums (P + 1 cycles). The
// control sequence follows the paper's test tile (clear 1, SDDMM, idle 1,
// exp 2, SpMM, exp_move 5 for 4 PEs per row). Each sweep streams d elements
// through the operand and result registers (d + io_latency cycles, stages
// `sddmm` and `spmm`); the wavefront's skew (stage `skew`, max_r (r +
// last_col_r)) is paid
// * barrier: by both sweeps, each waiting for the whole array (2 skews a
//   pass; the paper's test tile: SDDMM 24 = 14 + 8 + 2);
// * wavefront (own model on pe_row.scala, whose PEs have their own control
//   inputs and a score_exp register apart from the accumulator): once, V
//   following K down each column d + io + switch + exp cycles later, so each
//   PE switches to SpMM when its own score is through the exp unit.
// Passes stay apart (a pass's PEs tap other columns than the last's): the
// array drains before the next pass's clear in both modes. Sanger's cost
// model (bench_sanger_v2.py) pays one 64-cycle skew per tile instead.
// Row maximum (own model, docs/fidelity.md "The row maximum"): exp(s - m)
// needs each query row's maximum m over its kept scores, which come from
// several passes, before any of them runs exp. Sanger's RTL subtracts none
// (exp of the raw fixed-point score, which overflows any fixed-point exp
// format on real attention rows), so the array first runs every pass once as
// clear + SDDMM + a P + 1 cycle shift-and-compare drain into the query rows'
// maximum registers (as the exp drain's shift-and-add), then the passes
// proper: `row_max` per pass = clear + SDDMM sweep + P + 1.
struct PassTiming {
  Cycles sddmm = 0, spmm = 0, skew = 0, overhead = 0, row_max = 0;
  Cycles max_sweep = 0;  // the row-maximum run's SDDMM sweep (in row_max)
  Cycles total() const { return sddmm + spmm + skew + overhead + row_max; }
};
PassTiming pass_timing(const SubRow* subrows, int count, int head_dim, const ScoreStationaryConfig& p);
// The same summed over `passes` passes whose skews add up to skew_sum (every
// term is linear in the pass's skew): what the tile's totals need, from a
// schedule's pass totals (kernels/pack_split.h pass_totals) without visiting
// its sub-rows.
PassTiming passes_timing(int64_t passes, int64_t skew_sum, int head_dim, const ScoreStationaryConfig& p);

// The whole query tile: every key segment's sub-rows packed `rows` at a time
// into passes (sub-rows in schedule order), each pass run for the row
// maximum (row_max_pass only) and then in full, then normalisation by each
// row's exp sum: a reciprocal (divide_latency) and ceil(d / P) multiply
// cycles per group of `rows` query rows (own model). MACs count the maximum
// pass's SDDMM too (3 * nnz * d; 2 * nnz * d without it).
UnitWork score_stationary_tile(const PackSplitSchedule& s, int query_rows, int head_dim,
                               const ScoreStationaryConfig& p);

// Prediction unit (own model on Sanger §4.1): the low-bit QKᵀ of the tile on
// its own dense output-stationary array (SCALE-Sim fold formula), then a
// softmax-and-compare unit of `lanes` probabilities per cycle.
UnitWork predictor_tile(int query_rows, int keys_per_row_total, int seq_len, int head_dim, int array_rows,
                        int array_cols, int lanes, int softmax_latency,
                        FoldDrain drain = FoldDrain::in_skew);

// Pack-and-split encoder (own model on Sanger §4.2): it inspects
// `segments_per_cycle` row segments of the mask per cycle.
UnitWork encoder_tile(const PackSplitSchedule& s, int segments_per_cycle);

}  // namespace attnsim
