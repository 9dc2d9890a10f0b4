#include "systolic/systolic_timing.h"

#include <vector>

namespace attnsim {

Cycles os_fold_cycles(int rows, int cols, int64_t k, FoldDrain drain) {
  const Cycles compute = static_cast<Cycles>(rows) + cols + k - 2;
  return drain == FoldDrain::after_fold ? compute + rows : compute;
}

GemmTiming os_gemm(int64_t m, int64_t n, int64_t k, int rows, int cols, FoldDrain drain) {
  GemmTiming t;
  t.folds = ceil_div(m, rows) * ceil_div(n, cols);
  t.cycles = t.folds * os_fold_cycles(rows, cols, k, drain);
  t.macs = m * n * k;
  t.pe_slots = t.cycles * rows * cols;
  return t;
}

namespace {

// Mask: CsrMask or TileShape (rows, cols, nnz(), count_blocks()).
template <class Mask>
UnitWork systolic_attention_of(const Mask& mask, int head_dim, const SystolicConfig& p, int bytes_per_element) {
  UnitWork w;
  const int rows = p.rows, cols = p.cols;
  const int64_t b = bytes_per_element;
  const int64_t row_blocks = ceil_div(mask.rows, rows), col_blocks = ceil_div(mask.cols, cols);
  Cycles qk = 0, pv = 0;
  int64_t macs = 0, q_reads = 0, k_reads = 0, v_reads = 0, scores = 0;
  std::vector<int64_t> active(col_blocks);
  for (int64_t rb = 0; rb < row_blocks; ++rb) {
    std::fill(active.begin(), active.end(), 0);
    const int r_begin = static_cast<int>(rb * rows);
    const int r_end = static_cast<int>(std::min<int64_t>(mask.rows, r_begin + rows));
    const int64_t r_used = r_end - r_begin;
    mask.count_blocks(r_begin, r_end, cols, active);
    int64_t keys = 0;
    for (int64_t cb = 0; cb < col_blocks; ++cb) {
      if (!active[cb]) continue;
      const int64_t c_used = std::min<int64_t>(cols, mask.cols - cb * cols);
      qk += os_fold_cycles(rows, cols, head_dim, p.fold_drain);
      macs += r_used * c_used * head_dim;
      q_reads += r_used * head_dim;
      k_reads += c_used * head_dim;
      scores += r_used * c_used;
      keys += c_used;
    }
    if (keys == 0) continue;
    // PV: an r_used x head_dim output over the active keys.
    pv += ceil_div(head_dim, cols) * os_fold_cycles(rows, cols, keys, p.fold_drain);
    macs += r_used * head_dim * keys;
    v_reads += keys * head_dim;
  }
  const int64_t qk_folds = qk / os_fold_cycles(rows, cols, head_dim, p.fold_drain);
  const Cycles softmax = mask.nnz() ? ceil_div(mask.nnz(), p.softmax_lanes) + p.softmax_latency_cycles : 0;
  // Normalising the output rows: one reciprocal per row (pipelined divider),
  // then d multiplies per row on the softmax lanes.
  const Cycles normalise =
      mask.rows ? p.divide_latency_cycles + ceil_div(static_cast<int64_t>(mask.rows) * head_dim, p.softmax_lanes) : 0;
  w.stages = {{"qk", qk}, {"softmax", softmax}, {"pv", pv}, {"normalise", normalise}};
  w.cycles = qk + softmax + pv + normalise;
  w.macs = macs;
  w.pe_slots = (qk + pv) * rows * cols;
  w.sram_read_bytes = {{"q", q_reads * b}, {"k", k_reads * b}, {"v", v_reads * b}, {"score", 2 * scores * b}};
  w.sram_write_bytes = {{"score", 2 * scores * b}, {"output", static_cast<int64_t>(mask.rows) * head_dim * b}};
  w.counts = {{"folds_computed", qk_folds},
              {"softmax_elements", mask.nnz()},  // energy: an exp per kept score, a divide per row
              {"normalised_rows", mask.rows}};
  return w;
}

}  // namespace

UnitWork systolic_attention(const CsrMask& mask, int head_dim, const SystolicConfig& p, int bytes_per_element) {
  return systolic_attention_of(mask, head_dim, p, bytes_per_element);
}

UnitWork systolic_attention(const TileShape& mask, int head_dim, const SystolicConfig& p, int bytes_per_element) {
  return systolic_attention_of(mask, head_dim, p, bytes_per_element);
}

}  // namespace attnsim
