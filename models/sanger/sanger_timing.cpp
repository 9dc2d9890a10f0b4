#include "sanger/sanger_timing.h"

#include <algorithm>

#include "systolic/systolic_timing.h"

namespace attnsim {

Cycles wave_skew(const std::vector<int>& last_cols) {
  Cycles worst = 0;
  for (size_t r = 0; r < last_cols.size(); ++r) worst = std::max<Cycles>(worst, static_cast<Cycles>(r) + last_cols[r]);
  return worst;
}

Cycles sweep_cycles(const std::vector<int>& last_cols, int head_dim, int io_latency) {
  if (last_cols.empty()) return 0;
  return wave_skew(last_cols) + head_dim + io_latency;
}

PassTiming passes_timing(int64_t passes, int64_t skew_sum, int head_dim, const ScoreStationaryConfig& p) {
  PassTiming t;
  if (passes == 0) return t;
  const Cycles stream = head_dim + p.io_latency_cycles;
  t.sddmm = passes * stream;
  t.spmm = passes * stream;  // V streams exactly as K did
  t.skew = p.sweep_sync == SweepSync::barrier ? 2 * skew_sum : skew_sum;
  t.overhead = passes * (p.clear_cycles + p.switch_cycles + p.exp_latency_cycles + (p.pes_per_row + 1));
  t.max_sweep = passes * stream + skew_sum;  // a lone sweep: the same in both modes
  t.row_max = passes * (p.clear_cycles + (p.pes_per_row + 1)) + t.max_sweep;
  return t;
}

PassTiming pass_timing(const SubRow* subrows, int count, int head_dim, const ScoreStationaryConfig& p) {
  if (count == 0) return {};
  std::vector<int> last(count);
  for (int i = 0; i < count; ++i) last[i] = subrows[i].last_col;
  return passes_timing(1, wave_skew(last), head_dim, p);
}

UnitWork score_stationary_tile(const PackSplitSchedule& s, int query_rows, int head_dim,
                               const ScoreStationaryConfig& p) {
  const bool row_max_pass = p.row_max == RowMaxSource::pass;
  UnitWork w;
  const PassTotals totals = pass_totals(s, p.rows);
  const PassTiming t = passes_timing(totals.passes, totals.skew_sum, head_dim, p);
  const Cycles row_max = row_max_pass ? t.row_max : 0, max_sweeps = row_max_pass ? t.max_sweep : 0;
  const Cycles normalise =
      query_rows ? ceil_div(query_rows, p.rows) * (p.divide_latency_cycles + ceil_div(head_dim, p.pes_per_row)) : 0;
  w.stages = {{"row_max", row_max}, {"sddmm", t.sddmm}, {"exp_and_control", t.overhead}, {"spmm", t.spmm},
              {"skew", t.skew}, {"normalise", normalise}};
  w.cycles = row_max + t.sddmm + t.spmm + t.skew + t.overhead + normalise;
  w.macs = (row_max_pass ? 3 : 2) * s.nnz * head_dim;  // (the maximum pass's SDDMM,) SDDMM, SpMM
  // PE-cycles of the sweeps and their skew: the maximum pass's SDDMM, SDDMM,
  // SpMM.
  w.pe_slots = (max_sweeps + t.sddmm + t.spmm + t.skew) * static_cast<int64_t>(p.rows) * p.pes_per_row;
  w.counts = {{"passes", totals.passes}, {"bubble_pe_cycles", totals.bubbles}, {"subrows", s.subrows},
              {"nonzeros", s.nnz}, {"softmax_elements", s.nnz},  // an exp per kept score (energy)
              {"normalised_rows", query_rows}};
  return w;
}

UnitWork predictor_tile(int query_rows, int keys_per_row_total, int seq_len, int head_dim, int array_rows,
                        int array_cols, int lanes, int softmax_latency, FoldDrain drain) {
  UnitWork w;
  const GemmTiming g = os_gemm(query_rows, seq_len, head_dim, array_rows, array_cols, drain);
  const Cycles softmax = keys_per_row_total ? ceil_div(keys_per_row_total, lanes) + softmax_latency : 0;
  w.stages = {{"low_bit_qk", g.cycles}, {"softmax_threshold", softmax}};
  w.cycles = g.cycles + softmax;
  w.macs = g.macs;
  w.pe_slots = g.pe_slots;
  // Operations for the energy model: a probability and a threshold compare per allowed score.
  w.counts = {{"softmax_elements", keys_per_row_total}, {"compare_ops", keys_per_row_total}};
  return w;
}

UnitWork encoder_tile(const PackSplitSchedule& s, int segments_per_cycle) {
  UnitWork w;
  w.cycles = ceil_div(s.row_segments, segments_per_cycle);
  w.stages = {{"pack_split", w.cycles}};
  return w;
}

}  // namespace attnsim
