#include "systolic/systolic_cycle.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/quantize.h"

namespace attnsim {

namespace {

// A datum and the index along the reduction dimension it belongs to (k < 0:
// no datum). Padding of a partial fold is a datum of value 0, as SCALE-Sim
// pads the operands to the full array.
struct Token {
  double v = 0;
  int32_t k = -1;
};

enum class Kind { qk, pv, gemm };

struct Fold {
  Kind kind = Kind::qk;
  int rb = 0;  // row block
  int cb = 0;  // qk/gemm: column block; pv: block of output columns
  int k = 0;   // reduction length
};

// The controller's program for one job: folds, softmax, normalise, in order.
struct Step {
  enum { fold, softmax, normalise } what = fold;
  Fold f;
};

enum class Phase { idle, compute, drain, softmax, normalise, done };

}  // namespace

struct SystolicArrayCycle::Datapath {
  int R = 0, C = 0, lanes = 1, sm_lat = 0, div_lat = 0;
  FoldDrain drain_mode = FoldDrain::in_skew;

  // Operands of a job (attention) or of a GEMM.
  const CsrMask* mask = nullptr;
  MatD q;
  const MatD* K = nullptr;
  const MatD* V = nullptr;
  AttentionNumerics num;
  int d = 0;
  const MatD* ga = nullptr;
  const MatD* gb = nullptr;
  MatD gc;

  std::vector<Step> program;
  size_t step = 0;

  // Per row block: the active keys (concatenated active column blocks).
  std::vector<std::vector<int>> block_keys;
  // Per query row: (column, position in mask order) of its kept entries.
  std::vector<int> row_of;  // mask position -> query row

  // Array registers.
  std::vector<Token> a_reg, b_reg;  // R*C: A passes right, B passes down
  std::vector<double> acc;          // R*C output-stationary accumulators
  std::vector<int> macs;            // R*C
  std::vector<int> acc_row;         // R: fold row held by each array row while draining
  int pes_done = 0;
  // Current fold's operands.
  Fold cur;
  int r_used = 0, c_used = 0;
  // in_skew: the cycle each column's output bus last carried a result.
  std::vector<Cycles> bus_busy;
  MatD e_block;  // pv: the row block's exp values over its active keys

  // Score buffer (kept scores, in mask order), its per-row maximum register
  // (updated on every write), exp values and sums, output buffer.
  std::vector<double> scores, exps, row_max, z;
  MatD out_acc;
  MatF out;

  // Softmax and divider pipelines: group index per stage, -1 empty.
  std::vector<int64_t> pipe;

  Phase phase = Phase::idle;
  Cycles phase_cycle = 0, job_cycle = 0, phase_begin = 0;
  Cycles st_qk = 0, st_pv = 0, st_sm = 0, st_norm = 0;
  int64_t useful_macs = 0, q_reads = 0, k_reads = 0, v_reads = 0, score_block_writes = 0, qk_folds = 0, folds = 0;
  std::vector<PhaseSpan> trace;
  std::string error;

  void fail(const std::string& what) {
    if (error.empty()) error = what + " (step " + std::to_string(step) + ", cycle " + std::to_string(phase_cycle) + ")";
  }

  void resize() {
    a_reg.assign(static_cast<size_t>(R) * C, Token{});
    b_reg.assign(static_cast<size_t>(R) * C, Token{});
    acc.assign(static_cast<size_t>(R) * C, 0.0);
    macs.assign(static_cast<size_t>(R) * C, 0);
    acc_row.assign(R, 0);
    bus_busy.assign(C, -1);
  }

  int64_t rows_total() const { return cur.kind == Kind::gemm ? ga->rows() : mask->rows; }

  // ---- operands of the current fold, element (i, k) of A and (k, j) of B ---

  double a_at(int i, int k) {
    if (i >= r_used) return 0.0;  // padding row
    const int gr = cur.rb * R + i;
    switch (cur.kind) {
      case Kind::qk: ++q_reads; return q(gr, k);
      case Kind::pv: return e_block(i, k);
      default: return (*ga)(gr, k);
    }
  }
  double b_at(int k, int j) {
    if (j >= c_used) return 0.0;  // padding column
    const int gc_ = cur.cb * C + j;
    switch (cur.kind) {
      case Kind::qk: ++k_reads; return (*K)(gc_, k);
      case Kind::pv: ++v_reads; return (*V)(block_keys[cur.rb][k], gc_);
      default: return (*gb)(k, gc_);
    }
  }

  void start_fold(const Fold& f) {
    cur = f;
    const int64_t m = rows_total();
    r_used = static_cast<int>(std::min<int64_t>(R, m - static_cast<int64_t>(f.rb) * R));
    const int64_t n = f.kind == Kind::qk ? mask->cols : f.kind == Kind::pv ? d : gb->cols();
    c_used = static_cast<int>(std::min<int64_t>(C, n - static_cast<int64_t>(f.cb) * C));
    std::fill(a_reg.begin(), a_reg.end(), Token{});
    std::fill(b_reg.begin(), b_reg.end(), Token{});
    std::fill(acc.begin(), acc.end(), 0.0);
    std::fill(macs.begin(), macs.end(), 0);
    pes_done = 0;
    for (int i = 0; i < R; ++i) acc_row[i] = i;
    if (f.kind == Kind::pv) {
      // The row block's exp values over its active keys, read from the score
      // buffer (0 where the mask drops the key).
      const auto& keys = block_keys[f.rb];
      e_block = MatD::Zero(r_used, static_cast<Eigen::Index>(keys.size()));
      for (int i = 0; i < r_used; ++i) {
        const int r = f.rb * R + i;
        size_t u = 0;
        for (int t = mask->indptr[r]; t < mask->indptr[r + 1]; ++t) {
          while (u < keys.size() && keys[u] < mask->indices[t]) ++u;
          if (u == keys.size() || keys[u] != mask->indices[t]) {
            fail("kept key outside the active blocks");
            return;
          }
          e_block(i, static_cast<Eigen::Index>(u)) = exps[t];
        }
      }
    }
  }

  // ---- one clock cycle of a fold: every PE takes A from its left and B from
  // above (the edge PEs from the skewed feeders), multiplies and accumulates,
  // and registers both operands for its neighbours.
  bool compute_cycle() {
    const Cycles t = phase_cycle;
    const int kk = cur.k;
    for (int i = R - 1; i >= 0; --i) {
      for (int j = C - 1; j >= 0; --j) {
        const size_t x = static_cast<size_t>(i) * C + j;
        Token a, b;
        if (j == 0) {
          const Cycles k = t - i;  // row i enters i cycles late
          if (k >= 0 && k < kk) a = {a_at(i, static_cast<int>(k)), static_cast<int32_t>(k)};
        } else {
          a = a_reg[x - 1];
        }
        if (i == 0) {
          const Cycles k = t - j;  // column j enters j cycles late
          if (k >= 0 && k < kk) b = {b_at(static_cast<int>(k), j), static_cast<int32_t>(k)};
        } else {
          b = b_reg[x - C];
        }
        if (a.k != b.k) fail("A element " + std::to_string(a.k) + " met B element " + std::to_string(b.k));
        if (a.k >= 0) {
          if (a.k != macs[x]) fail("fold element out of order");
          acc[x] += a.v * b.v;
          if (i < r_used && j < c_used) ++useful_macs;
          if (++macs[x] == kk) {
            ++pes_done;
            // in_skew: the finished result leaves on column j's output bus now.
            if (drain_mode == FoldDrain::in_skew) {
              if (bus_busy[j] == job_cycle) fail("two results on column " + std::to_string(j) + "'s output bus");
              bus_busy[j] = job_cycle;
              if (i < r_used && j < c_used) capture(cur, i, j, acc[x]);
            }
          }
        }
        a_reg[x] = a;
        b_reg[x] = b;
      }
    }
    return pes_done == R * C;
  }

  // Drain: the bottom row's results leave the array each cycle and every row
  // moves one down.
  // after_fold: the bottom row's results leave the array each cycle and
  // every row moves one down.
  bool drain_cycle() {
    const int fr = acc_row[R - 1];
    if (fr < r_used)
      for (int j = 0; j < c_used; ++j) capture(cur, fr, j, acc[static_cast<size_t>(R - 1) * C + j]);
    for (int i = R - 1; i > 0; --i) {
      std::copy(acc.begin() + static_cast<size_t>(i - 1) * C, acc.begin() + static_cast<size_t>(i) * C,
                acc.begin() + static_cast<size_t>(i) * C);
      acc_row[i] = acc_row[i - 1];
    }
    std::fill(acc.begin(), acc.begin() + C, 0.0);
    acc_row[0] = R;  // nothing
    return phase_cycle == R - 1;
  }

  // One result of fold f (its row fr, column j) into its buffer.
  void capture(const Fold& f, int fr, int j, double res) {
    const int gr = f.rb * R + fr;
    switch (f.kind) {
      case Kind::qk: {
        // Into the score buffer (every fold entry is written): a kept entry,
        // scaled and rounded; the row's maximum register follows the writes.
        ++score_block_writes;
        const int key = f.cb * C + j;
        const int32_t* b = mask->indices.data() + mask->indptr[gr];
        const int32_t* e = mask->indices.data() + mask->indptr[gr + 1];
        const int32_t* it = std::lower_bound(b, e, key);
        if (it != e && *it == key) {
          const int t = static_cast<int>(it - mask->indices.data());
          scores[t] = num.data.round(res * num.scale);
          row_max[gr] = std::max(row_max[gr], scores[t]);
        }
        break;
      }
      case Kind::pv: out_acc(gr, f.cb * C + j) = res; break;
      default: gc(gr, f.cb * C + j) = res;
    }
  }

  // A pipeline of `lat` stages behind an issue stage: group g issued in cycle
  // t is written at the end of cycle t + lat. Returns the group written now.
  int64_t pipe_step(int64_t issue, int lat) {
    if (lat == 0) return issue;
    const int64_t out_g = pipe[lat - 1];
    for (int s = lat - 1; s > 0; --s) pipe[s] = pipe[s - 1];
    pipe[0] = issue;
    return out_g;
  }

  // Softmax: `lanes` kept scores per cycle, in mask order, e = exp(s - max).
  bool softmax_cycle() {
    const int64_t n = mask->nnz(), groups = ceil_div(n, lanes);
    const int64_t g = pipe_step(phase_cycle < groups ? phase_cycle : -1, sm_lat);
    if (g < 0) return false;
    for (int64_t t = g * lanes; t < std::min(n, (g + 1) * lanes); ++t) {
      const int r = row_of[t];
      exps[t] = num.prob.round(num.exp(scores[t] - row_max[r]));
      z[r] += exps[t];
    }
    return g == groups - 1;
  }

  // Normalise: `lanes` outputs per cycle through dividers of div_lat stages.
  bool normalise_cycle() {
    const int64_t n = static_cast<int64_t>(mask->rows) * d, groups = ceil_div(n, lanes);
    const int64_t g = pipe_step(phase_cycle < groups ? phase_cycle : -1, div_lat);
    if (g < 0) return false;
    for (int64_t x = g * lanes; x < std::min(n, (g + 1) * lanes); ++x) {
      const int r = static_cast<int>(x / d), c = static_cast<int>(x % d);
      out(r, c) = z[r] > 0 ? static_cast<float>(num.data.round(out_acc(r, c) / z[r])) : 0.0f;
    }
    return g == groups - 1;
  }

  // ---- controller ----------------------------------------------------------

  const char* name_of(Phase p) const {
    const bool gemm = cur.kind == Kind::gemm, qk = cur.kind == Kind::qk;
    switch (p) {
      case Phase::compute: return gemm ? "fold" : qk ? "qk_fold" : "pv_fold";
      case Phase::drain: return gemm ? "drain" : qk ? "qk_drain" : "pv_drain";
      case Phase::softmax: return "softmax";
      case Phase::normalise: return "normalise";
      default: return "idle";
    }
  }

  void enter_step() {
    phase_cycle = 0;
    phase_begin = job_cycle;
    if (step >= program.size()) {
      phase = Phase::done;
      return;
    }
    const Step& s = program[step];
    if (s.what == Step::fold) {
      start_fold(s.f);
      phase = Phase::compute;
    } else {
      pipe.assign(s.what == Step::softmax ? sm_lat : div_lat, -1);
      phase = s.what == Step::softmax ? Phase::softmax : Phase::normalise;
    }
  }

  void cycle() {
    bool end = false;
    switch (phase) {
      case Phase::compute: end = compute_cycle(); break;
      case Phase::drain: end = drain_cycle(); break;
      case Phase::softmax: end = softmax_cycle(); break;
      case Phase::normalise: end = normalise_cycle(); break;
      default: return;
    }
    ++phase_cycle;
    ++job_cycle;
    switch (phase) {
      case Phase::compute:
      case Phase::drain: (cur.kind == Kind::pv ? st_pv : st_qk)++; break;
      case Phase::softmax: ++st_sm; break;
      default: ++st_norm;
    }
    if (!error.empty()) {
      phase = Phase::done;
      return;
    }
    if (!end) return;
    trace.push_back({name_of(phase), phase_begin, phase_cycle});
    if (phase == Phase::compute && drain_mode == FoldDrain::after_fold) {
      phase = Phase::drain;
      phase_cycle = 0;
      phase_begin = job_cycle;
      return;
    }
    if (phase == Phase::drain || phase == Phase::compute) {
      ++folds;
      if (cur.kind == Kind::qk) ++qk_folds;
    }
    ++step;
    enter_step();
  }
};

SystolicArrayCycle::SystolicArrayCycle(sc_core::sc_module_name name, const SystolicConfig& config, double clock_ghz)
    : JobUnit<ComputeJob>(name, clock_ghz), config_(config), clock_("clock", period()), dp_(std::make_unique<Datapath>()) {}

SystolicArrayCycle::~SystolicArrayCycle() = default;

void SystolicArrayCycle::reconfigure(const SystolicConfig& config) {
  if (clock_.active()) throw std::logic_error("reconfigure during a job");
  config_ = config;
}

void SystolicArrayCycle::execute() {
  Datapath& dp = *dp_;
  dp.step = 0;
  dp.enter_step();
  if (dp.phase != Phase::done) {
    const Cycles elapsed = clock_.run([&dp] {
      dp.cycle();
      return dp.phase != Phase::done;
    });
    if (dp.error.empty() && elapsed != dp.job_cycle)
      dp.fail("simulated time " + std::to_string(elapsed) + " cycles, counted " + std::to_string(dp.job_cycle));
  }
  trace_ = dp.trace;
  if (!dp.error.empty()) throw std::runtime_error("systolic cycle model: " + dp.error);
}

namespace {

void check_idle(bool active) {
  if (active) throw std::logic_error("systolic cycle model: one job at a time");
}

void check_shape(const SystolicConfig& c) {
  if (c.rows < 1 || c.cols < 1 || c.softmax_lanes < 1)
    throw std::invalid_argument("systolic array: rows, cols and softmax_lanes must be >= 1");
}

}  // namespace

SystolicArrayCycle::GemmResult SystolicArrayCycle::gemm(const MatD& a, const MatD& b) {
  check_idle(clock_.active());
  check_shape(config_);
  if (a.cols() != b.rows()) throw std::invalid_argument("gemm: inner dimensions differ");
  Datapath& dp = *dp_;
  dp = Datapath{};
  dp.R = config_.rows;
  dp.C = config_.cols;
  dp.drain_mode = config_.fold_drain;
  dp.resize();
  dp.ga = &a;
  dp.gb = &b;
  dp.gc = MatD::Zero(a.rows(), b.cols());
  dp.cur.kind = Kind::gemm;
  if (a.cols() > 0)
    for (int rb = 0; rb < ceil_div(a.rows(), dp.R); ++rb)
      for (int cb = 0; cb < ceil_div(b.cols(), dp.C); ++cb)
        dp.program.push_back({Step::fold, {Kind::gemm, rb, cb, static_cast<int>(a.cols())}});
  execute();
  return {dp.gc, dp.job_cycle, dp.folds, dp.useful_macs};
}

void SystolicArrayCycle::run(ComputeJob& job) {
  check_idle(clock_.active());
  check_shape(config_);
  if (!job.q_tile || !job.kv || !job.mask) throw std::invalid_argument("systolic array: incomplete job");
  const CsrMask& mask = *job.mask;
  if (job.q_tile->rows() != mask.rows) throw std::invalid_argument("systolic array: mask rows != tile rows");
  Datapath& dp = *dp_;
  dp = Datapath{};
  dp.R = config_.rows;
  dp.C = config_.cols;
  dp.drain_mode = config_.fold_drain;
  dp.lanes = config_.softmax_lanes;
  dp.sm_lat = config_.softmax_latency_cycles;
  dp.div_lat = config_.divide_latency_cycles;
  dp.resize();
  dp.mask = &mask;
  dp.num = job.numerics;
  dp.d = static_cast<int>(job.q_tile->cols());
  dp.K = &job.kv->k;
  dp.V = &job.kv->v;
  dp.q = job.q_tile->cast<double>();
  if (dp.num.data.is_fixed()) round_to_format(dp.q, dp.num.data);
  dp.scores.assign(mask.nnz(), 0.0);
  dp.exps.assign(mask.nnz(), 0.0);
  dp.row_max.assign(mask.rows, -INFINITY);
  dp.z.assign(mask.rows, 0.0);
  dp.out_acc = MatD::Zero(mask.rows, dp.d);
  dp.out = MatF::Zero(mask.rows, dp.d);
  dp.row_of.resize(mask.nnz());
  for (int r = 0; r < mask.rows; ++r)
    for (int t = mask.indptr[r]; t < mask.indptr[r + 1]; ++t) dp.row_of[t] = r;

  // The program: QKᵀ folds of every row block over the column blocks its rows
  // use, softmax, PV folds over each row block's active keys, normalise.
  const int R = dp.R, C = dp.C;
  const int row_blocks = static_cast<int>(ceil_div(mask.rows, R));
  const int col_blocks = static_cast<int>(ceil_div(mask.cols, C));
  dp.block_keys.assign(row_blocks, {});
  std::vector<char> active(col_blocks);
  for (int rb = 0; rb < row_blocks; ++rb) {
    std::fill(active.begin(), active.end(), 0);
    for (int r = rb * R; r < std::min(mask.rows, (rb + 1) * R); ++r)
      for (int t = mask.indptr[r]; t < mask.indptr[r + 1]; ++t) active[mask.indices[t] / C] = 1;
    for (int cb = 0; cb < col_blocks; ++cb) {
      if (!active[cb]) continue;
      dp.program.push_back({Step::fold, {Kind::qk, rb, cb, dp.d}});
      for (int key = cb * C; key < std::min(mask.cols, (cb + 1) * C); ++key) dp.block_keys[rb].push_back(key);
    }
  }
  if (mask.nnz() > 0) dp.program.push_back({Step::softmax, {}});
  for (int rb = 0; rb < row_blocks; ++rb) {
    if (dp.block_keys[rb].empty()) continue;
    for (int f = 0; f < ceil_div(dp.d, C); ++f)
      dp.program.push_back({Step::fold, {Kind::pv, rb, f, static_cast<int>(dp.block_keys[rb].size())}});
  }
  if (mask.rows > 0) dp.program.push_back({Step::normalise, {}});
  execute();

  // A timing-only job (values known from the functional cache) keeps its
  // result; the datapath computes the values regardless.
  if (!job.timing_only) {
    job.result.scores.assign(dp.scores.begin(), dp.scores.end());
    job.result.probs.resize(mask.nnz());
    for (int64_t t = 0; t < mask.nnz(); ++t)
      job.result.probs[t] = static_cast<float>(dp.num.prob.round(dp.exps[t] / dp.z[dp.row_of[t]]));
    job.result.output = dp.out;
  }

  UnitWork& w = job.work;
  w = UnitWork{};
  w.stages = {{"qk", dp.st_qk}, {"softmax", dp.st_sm}, {"pv", dp.st_pv}, {"normalise", dp.st_norm}};
  w.cycles = dp.job_cycle;
  w.macs = dp.useful_macs;
  w.pe_slots = (dp.st_qk + dp.st_pv) * static_cast<int64_t>(R) * C;
  const int64_t b = dp.num.data.bytes();
  // Score-buffer traffic as the fast model counts it: every fold entry written
  // by the drain, read and rewritten by softmax, read by PV.
  w.sram_read_bytes = {{"q", dp.q_reads * b},
                       {"k", dp.k_reads * b},
                       {"v", dp.v_reads * b},
                       {"score", 2 * dp.score_block_writes * b}};
  w.sram_write_bytes = {{"score", 2 * dp.score_block_writes * b},
                        {"output", static_cast<int64_t>(mask.rows) * dp.d * b}};
  w.counts = {{"folds_computed", dp.qk_folds}, {"softmax_elements", mask.nnz()}, {"normalised_rows", mask.rows}};
  job.score_buffer_bytes = dp.score_block_writes * b;
}

}  // namespace attnsim
