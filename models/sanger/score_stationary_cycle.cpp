#include "sanger/score_stationary_cycle.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/quantize.h"

namespace attnsim {

namespace {

// A datum on a wire or in a register, with the index of the element it
// carries (k < 0: no datum; the register holds zero). The index is what a
// hardware controller knows implicitly from the schedule; the model carries it
// to check, every cycle, that the operands meeting in a PE belong together.
struct Token {
  double v = 0;
  int32_t k = -1;
  bool is_v = false;  // a V element (else Q, K or a partial sum)
};

// sweep: SDDMM, switch, exp and SpMM as one wavefront (SweepSync::wavefront).
enum class Phase { idle, clear, sddmm, max_drain, swtch, exp, spmm, sweep, drain, normalise, done };

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::clear: return "clear";
    case Phase::sddmm: return "sddmm";
    case Phase::swtch: return "switch";
    case Phase::exp: return "exp";
    case Phase::spmm: return "spmm";
    case Phase::sweep: return "sweep";
    case Phase::drain: return "drain";
    case Phase::max_drain: return "max_drain";
    case Phase::normalise: return "normalise";
    default: return "idle";
  }
}

struct Pass {
  int segment_slot = 0;  // index into schedule.segments
  int first = 0, count = 0;
};

}  // namespace

struct ScoreStationaryArrayCycle::Datapath {
  // Geometry and control latencies.
  int R = 0, P = 0, W = 0, d = 0;
  int x = 0;  // operand-fetch stages before the array's own input registers (io_latency - 2)
  int clear_len = 1, switch_len = 1, exp_len = 2, div_len = 20;
  bool wavefront = true;  // SweepSync::wavefront: the passes proper run as one sweep phase

  // The job.
  ComputeJob* job = nullptr;
  MatD q;  // the query tile rounded to the data format
  const MatD* K = nullptr;
  const MatD* V = nullptr;
  const CsrMask* mask = nullptr;
  const PackSplitSchedule* sched = nullptr;
  AttentionNumerics num;
  std::vector<double> row_max;  // per query row: the maximum its scores reached (the maximum passes)
  std::vector<Pass> passes;
  size_t pass_i = 0;
  bool max_pass = true;  // the passes run first for the row maximum: clear, SDDMM, max drain (row_max = pass)
  int64_t exp_saturated = 0;
  int group = 0, groups = 0;

  // Configuration registers of the current pass (loaded during clear).
  std::vector<int> row_q;   // per array row: query row, -1 if the row is idle
  std::vector<int> pe_col;  // per PE: column tap (c1/c2), -1 if unused
  std::vector<int> pe_nz;   // per PE: position of its nonzero in mask order
  std::vector<int> pe_c4;   // per PE: bubble delay on the partial-sum path
  std::vector<int> row_first;  // per array row: its first used PE (where partial sums start)
  int feed_cols = 0;        // columns the K/V feeder streams (up to the pass's last column)

  // Registers.
  std::vector<Token> qpipe, kpipe;  // operand-fetch stages: R*x (Q), W*x (K/V)
  std::vector<Token> vq, hk;        // R*W: Q shift register, K/V row registers
  std::vector<Token> acc;           // R*P accumulators (SDDMM: score, SpMM: partial sum)
  std::vector<int> macs;            // R*P SDDMM MACs done
  std::vector<char> score_valid;    // R*P result register valid
  std::vector<double> score, e;     // R*P score register, exp register
  std::vector<int> exp_wait;        // R*P wavefront: cycles until the exp register is loaded (-1: loaded)
  std::vector<Token> ring;          // R*P*(W-P) bubble delay buffers
  std::vector<int> ring_pos;        // R*P
  std::vector<double> ssum;         // R exp partial sums (drain)
  std::vector<double> rmax;         // R row maximum registers (max drain)
  std::vector<int> captured;        // R outputs captured this SpMM
  std::vector<char> div_pipe;       // normalise divider pipeline valid bits
  // Output buffer: Σ e·v per output and Σ e per query row, then the outputs.
  MatD out_acc;
  std::vector<Cycles> written_at;  // per output: the cycle of its last update (port check)
  std::vector<double> z;
  MatF out;
  std::vector<float> scores, exps;

  // Controller.
  Phase phase = Phase::idle;
  Cycles phase_cycle = 0, job_cycle = 0, phase_begin = 0;
  Cycles st_sddmm = 0, st_spmm = 0, st_ctrl = 0, st_norm = 0, st_max = 0, st_max_sweep = 0, st_skew = 0;
  int64_t mac_count = 0, q_reads = 0, k_reads = 0, v_reads = 0, out_rmw = 0, passes_done = 0, placed = 0;
  std::vector<PhaseSpan> trace;
  std::string error;

  void fail(const std::string& what) {
    if (error.empty()) error = what + " (pass " + std::to_string(pass_i) + ", " + phase_name(phase) + " cycle " +
                               std::to_string(phase_cycle) + ")";
  }

  const SegmentWork& segment() const { return sched->segments[passes[pass_i].segment_slot]; }

  // ---- configuration -------------------------------------------------------

  void resize_registers() {
    qpipe.assign(static_cast<size_t>(R) * x, Token{});
    kpipe.assign(static_cast<size_t>(W) * x, Token{});
    vq.assign(static_cast<size_t>(R) * W, Token{});
    hk.assign(static_cast<size_t>(R) * W, Token{});
    acc.assign(static_cast<size_t>(R) * P, Token{});
    macs.assign(static_cast<size_t>(R) * P, 0);
    score_valid.assign(static_cast<size_t>(R) * P, 0);
    score.assign(static_cast<size_t>(R) * P, 0.0);
    e.assign(static_cast<size_t>(R) * P, 0.0);
    exp_wait.assign(static_cast<size_t>(R) * P, 0);
    ring.assign(static_cast<size_t>(R) * P * std::max(1, W - P), Token{});
    ring_pos.assign(static_cast<size_t>(R) * P, 0);
    ssum.assign(R, 0.0);
    rmax.assign(R, -INFINITY);
    captured.assign(R, 0);
    row_q.assign(R, -1);
    pe_col.assign(static_cast<size_t>(R) * P, -1);
    pe_nz.assign(static_cast<size_t>(R) * P, -1);
    pe_c4.assign(static_cast<size_t>(R) * P, 0);
    row_first.assign(R, P);
  }

  // Places a sub-row's nonzeros (column offsets c[0..n-1]) on the row's PEs so
  // that the partial sums of SpMM meet each PE's V exactly when V arrives:
  // between consecutive nonzeros t, t+1 held by PEs p_t < p_{t+1}, the path
  // p_t -> p_{t+1} must take c_{t+1} - c_t cycles, one per PE register plus
  // the configured bubble delays c4 (each at most W - P). The last nonzero
  // sits on the last PE with no delay, so each row's outputs leave the array
  // right after its last MAC (the early exit the fast formula assumes); going
  // left, each step uses as few PEs as the bubble buffers allow. Such a
  // placement always exists: Σ ceil(gap / (W-P+1)) <= P - 1.
  bool place(int r, const int32_t* cols, int n, int nz0) {
    const int L = W - P + 1;
    int* col = &pe_col[static_cast<size_t>(r) * P];
    int* nz = &pe_nz[static_cast<size_t>(r) * P];
    int* c4 = &pe_c4[static_cast<size_t>(r) * P];
    int p = P - 1;
    col[p] = cols[n - 1];
    nz[p] = nz0 + n - 1;
    c4[p] = 0;
    for (int t = n - 2; t >= 0; --t) {
      const int gap = cols[t + 1] - cols[t];
      const int m = (gap + L - 1) / L;
      const int pt = p - m;
      if (pt < 0) return false;
      int extra = gap - m;
      for (int u = pt; u < p; ++u) {
        c4[u] = std::min(W - P, extra);
        extra -= c4[u];
      }
      col[pt] = cols[t];
      nz[pt] = nz0 + t;
      p = pt;
    }
    row_first[r] = p;
    return true;
  }

  // Clear: every data register to zero; the pass's configuration (column taps,
  // bubble delays) into the configuration registers.
  void clear_and_configure() {
    std::fill(qpipe.begin(), qpipe.end(), Token{});
    std::fill(kpipe.begin(), kpipe.end(), Token{});
    std::fill(vq.begin(), vq.end(), Token{});
    std::fill(hk.begin(), hk.end(), Token{});
    std::fill(acc.begin(), acc.end(), Token{});
    std::fill(macs.begin(), macs.end(), 0);
    std::fill(score_valid.begin(), score_valid.end(), 0);
    std::fill(score.begin(), score.end(), 0.0);
    std::fill(e.begin(), e.end(), 0.0);
    std::fill(exp_wait.begin(), exp_wait.end(), 0);
    std::fill(ring.begin(), ring.end(), Token{});
    std::fill(ring_pos.begin(), ring_pos.end(), 0);
    std::fill(ssum.begin(), ssum.end(), 0.0);
    std::fill(rmax.begin(), rmax.end(), -INFINITY);
    std::fill(captured.begin(), captured.end(), 0);
    std::fill(row_q.begin(), row_q.end(), -1);
    std::fill(pe_col.begin(), pe_col.end(), -1);
    std::fill(pe_nz.begin(), pe_nz.end(), -1);
    std::fill(pe_c4.begin(), pe_c4.end(), 0);
    std::fill(row_first.begin(), row_first.end(), P);
    const Pass& ps = passes[pass_i];
    const SegmentWork& seg = segment();
    const int base = seg.segment * W;
    feed_cols = 0;
    for (int r = 0; r < ps.count; ++r) {
      const SubRow& sr = seg.subrows[ps.first + r];
      if (sr.nnz < 1 || sr.nnz > P) return fail("sub-row with " + std::to_string(sr.nnz) + " nonzeros");
      std::vector<int32_t> cols(sr.nnz);
      for (int t = 0; t < sr.nnz; ++t) cols[t] = mask->indices[sr.idx_begin + t] - base;
      if (cols.front() < 0 || cols.back() >= W) return fail("sub-row outside its segment");
      if (!place(r, cols.data(), sr.nnz, sr.idx_begin)) return fail("no PE placement for a sub-row");
      row_q[r] = sr.row;
      if (!max_pass) placed += sr.nnz;
      feed_cols = std::max(feed_cols, cols.back() + 1);
    }
  }

  // ---- datapath, one clock cycle per call ----------------------------------

  // The operand-fetch stages of one lane: returns what leaves the last stage
  // this cycle and shifts `in` in.
  Token through(std::vector<Token>& pipe, int lane, const Token& in) {
    if (x == 0) return in;
    Token* s = &pipe[static_cast<size_t>(lane) * x];
    const Token out = s[x - 1];
    for (int i = x - 1; i > 0; --i) s[i] = s[i - 1];
    s[0] = in;
    return out;
  }

  // K (SDDMM) or V (SpMM) of segment column c, element t - c: the top of the
  // array is skewed one cycle per column offset.
  Token kv_feed(int c, Cycles t, const MatD& M, int64_t& reads, bool is_v) {
    const Cycles k = t - c;
    if (c >= feed_cols || k < 0 || k >= d) return {};
    ++reads;
    const int key = segment().segment * W + c;
    const double v = (key < mask->cols && key < M.rows()) ? M(key, k) : 0.0;  // past the last key: padding
    return {v, static_cast<int32_t>(k), is_v};
  }

  // Wavefront: V of a column follows its K down the array this many cycles
  // later (d + io + switch + exp), so every PE's exp register is loaded
  // before its first V element arrives.
  Cycles v_offset() const { return d + x + 2 + switch_len + exp_len; }

  // The K/V registers pass one row down; row 0 takes the feeder's output
  // (in the wavefront sweep K, then V from v_offset() on).
  void shift_down(const MatD& M, int64_t& reads, bool is_v) {
    const Cycles t = phase_cycle;
    for (int r = R - 1; r > 0; --r)
      std::copy(hk.begin() + static_cast<size_t>(r - 1) * W, hk.begin() + static_cast<size_t>(r) * W,
                hk.begin() + static_cast<size_t>(r) * W);
    for (int c = 0; c < W; ++c) {
      Token in;
      if (phase != Phase::sweep) {
        in = kv_feed(c, t, M, reads, is_v);
      } else {
        in = kv_feed(c, t, *K, k_reads, false);
        if (in.k < 0) in = kv_feed(c, t - v_offset(), *V, v_reads, true);
      }
      hk[c] = through(kpipe, c, in);
    }
  }

  // One SDDMM cycle of PE i (array row r, column tap c): a MAC when its Q and
  // K elements meet, or, one cycle after the d-th, the result stage (scale
  // and round the finished dot product into the score register). Returns
  // whether the score register is valid.
  bool sddmm_pe(int r, size_t i, int c) {
    if (score_valid[i]) return true;
    if (macs[i] == d) {
      score[i] = num.data.round(acc[i].v * num.scale);
      acc[i] = Token{};  // the accumulator is free for SpMM's partial sums
      score_valid[i] = 1;
      scores[pe_nz[i]] = static_cast<float>(score[i]);
      exp_wait[i] = switch_len + exp_len;
      return true;
    }
    const Token& a = vq[static_cast<size_t>(r) * W + c];
    const Token& b = hk[static_cast<size_t>(r) * W + c];
    if (b.is_v) fail("V element " + std::to_string(b.k) + " reached a PE still in SDDMM");
    if (a.k != b.k) fail("Q element " + std::to_string(a.k) + " met K element " + std::to_string(b.k));
    if (a.k >= 0) {
      if (a.k != macs[i]) fail("SDDMM element out of order");
      acc[i].v += a.v * b.v;
      ++macs[i];
      ++mac_count;
    }
    return false;
  }

  // Q moves one column right (the row's skew is in its feed).
  void shift_q() {
    const Cycles t = phase_cycle;
    for (int r = 0; r < R; ++r) {
      Token in;
      const Cycles k = t - r;
      if (row_q[r] >= 0 && k >= 0 && k < d) {
        in = {q(row_q[r], k), static_cast<int32_t>(k)};
        ++q_reads;
      }
      Token* row = &vq[static_cast<size_t>(r) * W];
      std::copy_backward(row, row + W - 1, row + W);
      row[0] = through(qpipe, r, in);
    }
  }

  bool sddmm_cycle() {
    bool all_valid = true;
    for (int r = 0; r < R; ++r) {
      if (row_q[r] < 0) continue;
      for (int p = 0; p < P; ++p) {
        const size_t i = static_cast<size_t>(r) * P + p;
        if (pe_col[i] >= 0 && !sddmm_pe(r, i, pe_col[i])) all_valid = false;
      }
    }
    shift_q();
    shift_down(*K, k_reads, false);
    return all_valid;
  }

  Token o_out(size_t i) const {
    const int c4 = pe_c4[i];
    return c4 == 0 ? acc[i] : ring[i * std::max(1, W - P) + ring_pos[i]];
  }

  // SpMM (and, in the wavefront sweep, SDDMM and exp too: each PE by its own
  // state, SDDMM until its score is registered, then switch + exp cycles
  // until its exp register is loaded, then SpMM).
  bool spmm_cycle() {
    const bool sweep = phase == Phase::sweep;
    bool all_captured = true;
    const size_t depth = std::max(1, W - P);
    for (int r = 0; r < R; ++r) {
      const int qr = row_q[r];
      if (qr < 0) continue;
      const size_t base = static_cast<size_t>(r) * P;
      // The output buffer takes the row's output (the last PE's) this cycle.
      const Token o = o_out(base + P - 1);
      if (o.k >= 0) {
        if (o.k != captured[r]) fail("output element out of order");
        // One read-modify-write port per array row; two rows never hit the
        // same output in one cycle (sub-rows of a query row finish in order).
        Cycles& stamp = written_at[static_cast<size_t>(qr) * d + o.k];
        if (stamp == job_cycle) fail("two partial sums for one output in one cycle");
        stamp = job_cycle;
        out_acc(qr, o.k) += o.v;
        ++captured[r];
        ++out_rmw;
      }
      if (captured[r] < d) all_captured = false;
      // PEs right to left: each reads its left neighbour's registered output.
      const Token* vrow = &hk[static_cast<size_t>(r) * W];
      for (int p = P - 1; p >= 0; --p) {
        const size_t i = base + p;
        const Token in = p == 0 ? Token{} : o_out(i - 1);
        if (pe_c4[i] > 0) {
          ring[i * depth + ring_pos[i]] = acc[i];
          ring_pos[i] = (ring_pos[i] + 1) % pe_c4[i];
        }
        const int c = pe_col[i];
        if (c < 0) {  // unused PE: passes the partial sum on (its operands are the constant 0)
          acc[i] = in;
          continue;
        }
        if (sweep && (!sddmm_pe(r, i, c) || exp_wait[i] >= 0)) {
          if (score_valid[i] && exp_wait[i]-- == 0) load_exp(r, i);
          if (in.k >= 0) fail("partial sum " + std::to_string(in.k) + " reached a PE before its exp");
          if (vrow[c].is_v && vrow[c].k >= 0) fail("V element reached a PE before its exp");
          continue;
        }
        const Token& b = vrow[c];
        const bool first = p == row_first[r];
        if (b.k >= 0) {
          if (first ? in.k >= 0 : in.k != b.k)
            fail("partial sum " + std::to_string(in.k) + " met V element " + std::to_string(b.k));
          acc[i] = {in.v + e[i] * b.v, b.k};
          ++mac_count;
        } else {
          if (in.k >= 0) fail("partial sum " + std::to_string(in.k) + " met no V");
          acc[i] = {in.v, -1};
        }
      }
    }
    if (sweep) shift_q();
    shift_down(*V, v_reads, true);
    return all_captured;
  }

  // Max drain (the maximum passes): the P score registers shift right through
  // the row into the row's maximum register, which keeps the larger (P
  // cycles; unused PEs hold no score); then it updates the query row's
  // maximum (1 cycle).
  bool max_drain_cycle() {
    const Cycles t = phase_cycle;
    for (int r = 0; r < R; ++r) {
      if (row_q[r] < 0) continue;
      double* sr = &score[static_cast<size_t>(r) * P];
      char* valid = &score_valid[static_cast<size_t>(r) * P];
      if (t < P) {
        if (valid[P - 1]) rmax[r] = std::max(rmax[r], sr[P - 1]);
        for (int p = P - 1; p > 0; --p) sr[p] = sr[p - 1], valid[p] = valid[p - 1];
        sr[0] = 0, valid[0] = 0;
      } else {
        double& m = row_max[row_q[r]];
        m = std::max(m, rmax[r]);
        rmax[r] = -INFINITY;
      }
    }
    return t == P;
  }

  // Drain: the P exp values shift right through the row into the row's
  // exp-sum register (P cycles), which is then added to the query row's Σe.
  bool drain_cycle() {
    const Cycles t = phase_cycle;
    for (int r = 0; r < R; ++r) {
      if (row_q[r] < 0) continue;
      double* er = &e[static_cast<size_t>(r) * P];
      if (t < P) {
        ssum[r] += er[P - 1];
        for (int p = P - 1; p > 0; --p) er[p] = er[p - 1];
        er[0] = 0;
      } else {
        z[row_q[r]] += ssum[r];
        ssum[r] = 0;
      }
    }
    return t == P;
  }

  // Normalise one group of R query rows: the rows' exp sums enter a divider
  // pipeline of div_len stages; then each row's P PEs produce P outputs per
  // cycle, out = round(Σ e·v / Σ e).
  bool normalise_cycle() {
    const Cycles t = phase_cycle;
    bool ready = div_len == 0;
    if (div_len > 0) {
      ready = div_pipe[div_len - 1];
      for (int s = div_len - 1; s > 0; --s) div_pipe[s] = div_pipe[s] || div_pipe[s - 1];
      div_pipe[0] = 1;  // loaded at the group's first cycle and held
    }
    if (!ready) return false;
    const Cycles chunk = t - div_len;
    for (int r = 0; r < R; ++r) {
      const int qr = group * R + r;
      if (qr >= mask->rows) break;
      for (int p = 0; p < P; ++p) {
        const Cycles k = chunk * P + p;
        if (k >= d) break;
        out(qr, k) = z[qr] > 0 ? static_cast<float>(num.data.round(out_acc(qr, k) / z[qr])) : 0.0f;
      }
    }
    return (chunk + 1) * P >= d;
  }

  // Exp: every used PE's score minus its query row's maximum through the exp
  // unit, rounded to the probability format; unused PEs hold 0.
  void exp_action() {
    for (int r = 0; r < R; ++r) {
      for (int p = 0; p < P; ++p) {
        const size_t i = static_cast<size_t>(r) * P + p;
        if (row_q[r] < 0 || pe_col[i] < 0) {
          e[i] = 0;
          continue;
        }
        load_exp(r, i);
      }
    }
  }
  void load_exp(int r, size_t i) {
    e[i] = exp_of_score(num, score[i], row_max[row_q[r]], exp_saturated);
    exps[pe_nz[i]] = static_cast<float>(e[i]);
    exp_wait[i] = -1;
  }

  // ---- controller ----------------------------------------------------------

  // A finished sweep phase's cycles by stage, as the fast model reports them:
  // d + io streaming cycles per sweep (sddmm, spmm), the wavefront's switch
  // and exp (exp_and_control), the rest waiting for the skewed wavefront
  // (skew).
  void attribute_sweep() {
    const Cycles stream = d + x + 2;
    Cycles rest = phase_cycle;
    if (phase == Phase::sddmm || phase == Phase::sweep) st_sddmm += stream, rest -= stream;
    if (phase == Phase::spmm || phase == Phase::sweep) st_spmm += stream, rest -= stream;
    if (phase == Phase::sweep) st_ctrl += switch_len + exp_len, rest -= switch_len + exp_len;
    if (phase != Phase::sddmm && phase != Phase::spmm && phase != Phase::sweep) return;
    if (rest < 0) fail("sweep shorter than its streams");
    st_skew += rest;
  }

  Cycles fixed_length(Phase p) const {
    switch (p) {
      case Phase::clear: return clear_len;
      case Phase::swtch: return switch_len;
      case Phase::exp: return exp_len;
      default: return -1;
    }
  }

  void end_action(Phase p) {
    if (p == Phase::clear) clear_and_configure();
    if (p == Phase::exp) exp_action();
  }

  Phase after(Phase p) {
    switch (p) {
      case Phase::clear: return max_pass || !wavefront ? Phase::sddmm : Phase::sweep;
      case Phase::sddmm: return max_pass ? Phase::max_drain : Phase::swtch;
      case Phase::max_drain:
        if (++pass_i == passes.size()) {  // every maximum known: the passes proper
          max_pass = false;
          pass_i = 0;
        }
        return Phase::clear;
      case Phase::swtch: return Phase::exp;
      case Phase::exp: return Phase::spmm;
      case Phase::spmm:
      case Phase::sweep: return Phase::drain;
      case Phase::drain:
        ++passes_done;
        if (++pass_i < passes.size()) return Phase::clear;
        return groups ? Phase::normalise : Phase::done;
      case Phase::normalise: return ++group < groups ? Phase::normalise : Phase::done;
      default: return Phase::done;
    }
  }

  void enter(Phase p) {
    for (;;) {
      phase = p;
      phase_cycle = 0;
      phase_begin = job_cycle;
      if (p == Phase::normalise) div_pipe.assign(div_len, 0);
      if (fixed_length(p) != 0) return;
      end_action(p);  // a phase of no cycles acts at the edge that ended the previous one
      p = after(p);
    }
  }

  void start() {
    pass_i = 0;
    group = 0;
    groups = static_cast<int>(ceil_div(mask->rows, R));
    enter(!passes.empty() ? Phase::clear : groups ? Phase::normalise : Phase::done);
  }

  // One rising clock edge: the current phase's register updates, then the
  // controller's decision.
  void cycle() {
    bool end = false;
    switch (phase) {
      case Phase::clear:
      case Phase::swtch:
      case Phase::exp: break;
      case Phase::sddmm: end = sddmm_cycle(); break;
      case Phase::max_drain: end = max_drain_cycle(); break;
      case Phase::spmm:
      case Phase::sweep: end = spmm_cycle(); break;
      case Phase::drain: end = drain_cycle(); break;
      case Phase::normalise: end = normalise_cycle(); break;
      default: return;
    }
    ++phase_cycle;
    ++job_cycle;
    if (max_pass && phase != Phase::normalise) {
      ++st_max;
      if (phase == Phase::sddmm) ++st_max_sweep;
    } else if (phase == Phase::normalise) {
      ++st_norm;
    } else if (phase != Phase::sddmm && phase != Phase::spmm && phase != Phase::sweep) {
      ++st_ctrl;
    }
    if (fixed_length(phase) > 0) end = phase_cycle == fixed_length(phase);
    if (!error.empty()) {  // a broken invariant ends the job
      phase = Phase::done;
      return;
    }
    if (!end) return;
    if (!max_pass) attribute_sweep();
    const bool max_phase = max_pass && (phase == Phase::clear || phase == Phase::sddmm);
    trace.push_back({std::string(max_phase ? "max_" : "") + phase_name(phase), phase_begin, phase_cycle});
    end_action(phase);
    enter(after(phase));
  }
};

ScoreStationaryArrayCycle::ScoreStationaryArrayCycle(sc_core::sc_module_name name, const ScoreStationaryConfig& config,
                                                     int segment_width, double clock_ghz)
    : JobUnit<ComputeJob>(name, clock_ghz),
      config_(config),
      segment_width_(segment_width),
      clock_("clock", period()),
      dp_(std::make_unique<Datapath>()) {}

ScoreStationaryArrayCycle::~ScoreStationaryArrayCycle() = default;

void ScoreStationaryArrayCycle::reconfigure(const ScoreStationaryConfig& config, int segment_width) {
  if (clock_.active()) throw std::logic_error("reconfigure during a job");
  config_ = config;
  segment_width_ = segment_width;
}

void ScoreStationaryArrayCycle::run(ComputeJob& job) {
  if (clock_.active()) throw std::logic_error("score-stationary cycle model: one job at a time");
  if (config_.row_max == RowMaxSource::predictor && job.predicted_row_max) job.numerics.row_max = job.predicted_row_max;
  if (!job.q_tile || !job.kv || !job.mask || !job.schedule)
    throw std::invalid_argument("score-stationary array: job without query tile, operands, mask or schedule");
  const PackSplitSchedule& s = *job.schedule;
  const CsrMask& mask = *job.mask;
  Datapath& dp = *dp_;
  dp = Datapath{};
  dp.R = config_.rows;
  dp.P = config_.pes_per_row;
  dp.W = segment_width_;
  dp.d = static_cast<int>(job.q_tile->cols());
  // io_latency counts the array's operand registers (one) and the PE result
  // register (one); more are operand-fetch stages in front of the array. The
  // two registers exist whatever io_latency says (docs/fidelity.md).
  dp.x = std::max(0, config_.io_latency_cycles - 2);
  dp.clear_len = config_.clear_cycles;
  dp.switch_len = config_.switch_cycles;
  dp.exp_len = config_.exp_latency_cycles;
  dp.div_len = config_.divide_latency_cycles;
  dp.wavefront = config_.sweep_sync == SweepSync::wavefront;
  if (dp.R < 1 || dp.P < 1 || dp.P > dp.W || dp.d < 1)
    throw std::invalid_argument("score-stationary array: needs rows >= 1, 1 <= pes_per_row <= segment_width, d >= 1");
  if (s.segment_width != dp.W || s.pes_per_row != dp.P)
    throw std::invalid_argument("score-stationary array: schedule made for segment width " +
                                std::to_string(s.segment_width) + " / " + std::to_string(s.pes_per_row) +
                                " PEs per row, array has " + std::to_string(dp.W) + " / " + std::to_string(dp.P));
  if (job.q_tile->rows() != mask.rows) throw std::invalid_argument("score-stationary array: mask rows != tile rows");

  dp.job = &job;
  dp.mask = &mask;
  dp.sched = &s;
  dp.num = job.numerics;
  dp.K = &job.kv->k;
  dp.V = &job.kv->v;
  dp.q = job.q_tile->cast<double>();
  if (dp.num.data.is_fixed()) round_to_format(dp.q, dp.num.data);
  dp.resize_registers();
  dp.out_acc = MatD::Zero(mask.rows, dp.d);
  dp.written_at.assign(static_cast<size_t>(mask.rows) * dp.d, -1);
  dp.z.assign(mask.rows, 0.0);
  dp.out = MatF::Zero(mask.rows, dp.d);
  dp.scores.assign(mask.nnz(), 0.0f);
  dp.exps.assign(mask.nnz(), 0.0f);
  // The row maxima: found by the maximum passes (row_max = pass) or given by
  // the predictor (a timing-only job has none: the values are not used, the
  // rows' own maxima stand in).
  dp.max_pass = config_.row_max == RowMaxSource::pass;
  dp.row_max.assign(mask.rows, -INFINITY);
  if (!dp.max_pass) {
    if (job.numerics.row_max) {
      for (int r = 0; r < mask.rows; ++r) dp.row_max[r] = dp.num.data.round((*job.numerics.row_max)[r]);
    } else {
      const MaskedAttention own = masked_attention(*job.q_tile, *job.kv, mask, job.numerics);
      for (int r = 0; r < mask.rows; ++r)
        for (int t = mask.indptr[r]; t < mask.indptr[r + 1]; ++t) dp.row_max[r] = std::max<double>(dp.row_max[r], own.scores[t]);
    }
  }
  for (size_t g = 0; g < s.segments.size(); ++g) {
    const int n = static_cast<int>(s.segments[g].subrows.size());
    for (int first = 0; first < n; first += dp.R) dp.passes.push_back({static_cast<int>(g), first, std::min(dp.R, n - first)});
  }

  dp.start();
  if (dp.phase != Phase::done) {
    const Cycles elapsed = clock_.run([&dp] {
      dp.cycle();
      return dp.phase != Phase::done;
    });
    if (dp.error.empty() && elapsed != dp.job_cycle)
      dp.fail("simulated time " + std::to_string(elapsed) + " cycles, counted " + std::to_string(dp.job_cycle));
  }
  trace_ = dp.trace;
  if (!dp.error.empty()) throw std::runtime_error("score-stationary cycle model: " + dp.error);

  // Results: the scores the PEs registered, the outputs the normalise stage
  // wrote; probabilities (e / Σe) for validation, as the functional kernel
  // reports them.
  // A timing-only job (values known from the functional cache) keeps its
  // result; the datapath computes the values regardless.
  if (!job.timing_only) {
    job.result.scores = dp.scores;
    job.result.probs.resize(mask.nnz());
    for (int r = 0; r < mask.rows; ++r)
      for (int t = mask.indptr[r]; t < mask.indptr[r + 1]; ++t)
        job.result.probs[t] = static_cast<float>(dp.num.prob.round(dp.exps[t] / dp.z[r]));
    job.result.output = dp.out;
    job.result.exp_saturated = dp.exp_saturated;  // exp registers that saturated (row_max = predictor)
  }

  UnitWork& w = job.work;
  w = UnitWork{};
  w.stages = {{"row_max", dp.st_max}, {"sddmm", dp.st_sddmm}, {"exp_and_control", dp.st_ctrl}, {"spmm", dp.st_spmm},
              {"skew", dp.st_skew}, {"normalise", dp.st_norm}};
  w.cycles = dp.job_cycle;
  w.macs = dp.mac_count;
  w.pe_slots = (dp.st_max_sweep + dp.st_sddmm + dp.st_spmm + dp.st_skew) * static_cast<int64_t>(dp.R) * dp.P;
  int64_t bubbles = 0;
  for (const auto& seg : s.segments)
    for (const auto& sr : seg.subrows) bubbles += sr.bubbles();
  w.counts = {{"passes", dp.passes_done}, {"bubble_pe_cycles", bubbles}, {"subrows", s.subrows}, {"nonzeros", dp.placed},
              {"softmax_elements", dp.placed}, {"normalised_rows", mask.rows}};
  const int64_t b = dp.num.data.bytes();
  w.sram_read_bytes = {{"q", dp.q_reads * b}, {"k", dp.k_reads * b}, {"v", dp.v_reads * b}, {"output", dp.out_rmw * b}};
  w.sram_write_bytes = {{"output", dp.out_rmw * b}};
  job.score_buffer_bytes = ceil_div(static_cast<int64_t>(mask.rows) * mask.cols, 8);
}

}  // namespace attnsim
