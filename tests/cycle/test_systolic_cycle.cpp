// The register-level output-stationary array against the fast model: the same
// cycle count as os_gemm() / systolic_attention() (partial folds included),
// and the functional kernel's values bit for bit in fixed point.
#include <gtest/gtest.h>

#include "systolic/systolic_cycle.h"
#include "systolic/systolic_timing.h"
#include "testbench.h"

using namespace attnsim;
using namespace attnsim::cycle_test;

namespace {

SystolicConfig os_config(int rows, int cols) {
  SystolicConfig c;
  c.rows = rows;
  c.cols = cols;
  return c;
}

MatD integer_matrix(Rng& rng, int rows, int cols) {
  MatD m(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m(i, j) = uniform_int(rng, -9, 9);
  return m;
}

struct Case {
  SystolicConfig config;
  MatF q, k, v;
  CsrMask mask;
  Formats formats;
  HeadOperands kv;
  ComputeJob job;
  std::string describe() const {
    std::ostringstream s;
    s << "R=" << config.rows << " C=" << config.cols << " d=" << q.cols() << " rows=" << mask.rows
      << " cols=" << mask.cols << " nnz=" << mask.nnz() << " lanes=" << config.softmax_lanes
      << " softmax_latency=" << config.softmax_latency_cycles << " div=" << config.divide_latency_cycles
      << " drain=" << fold_drain_name(config.fold_drain) << " "
      << formats.name;
    return s.str();
  }
  void finish() {
    kv = prepare_operands(k, v, formats.num.data);
    bind();
  }
  // The job points into this case: bind again after the case was copied.
  void bind() {
    job = ComputeJob{};
    job.q_tile = &q;
    job.kv = &kv;
    job.mask = &mask;
    job.numerics = formats.num;
  }
};

struct Shape {
  int max_rows = 12, max_cols = 12, max_d = 32;
  bool causal = false, fp32 = false;
};

Case random_case(Rng& rng, const Shape& sh) {
  for (;;) {
    Case c;
    c.config = os_config(uniform_int(rng, 1, sh.max_rows), uniform_int(rng, 1, sh.max_cols));
    c.config.softmax_lanes = uniform_int(rng, 1, 16);
    c.config.softmax_latency_cycles = uniform_int(rng, 0, 8);
    c.config.divide_latency_cycles = uniform_int(rng, 0, 20);
    c.config.fold_drain = uniform_int(rng, 0, 1) ? FoldDrain::after_fold : FoldDrain::in_skew;
    const int d = uniform_int(rng, 1, sh.max_d);
    const int rows = uniform_int(rng, 1, 24);
    const int cols = uniform_int(rng, 1, 48);
    const int row0 = sh.causal ? uniform_int(rng, 0, std::max(0, cols - rows)) : 0;
    c.mask = random_mask(rng, rows, cols, std::max(2, c.config.cols), sh.causal, row0);
    c.formats = sh.fp32 ? fp32_numerics(rng, d) : random_fixed_numerics(rng, d);
    const double amp = pick(rng, std::vector<double>{0.25, 1.0, 2.0, 4.0});
    c.q = random_matrix(rng, rows, d, amp);
    c.k = random_matrix(rng, cols, d, amp);
    c.v = random_matrix(rng, cols, d, amp);
    c.finish();
    const UnitWork fast = systolic_attention(c.mask, d, c.config, c.formats.num.data.bytes());
    if (static_cast<double>(fast.cycles) * c.config.rows * c.config.cols <= 5e6) return c;
  }
}

void check_case(Bench& bench, SystolicArrayCycle& unit, Case& c, double tol) {
  SCOPED_TRACE(c.describe());
  c.bind();
  unit.reconfigure(c.config);
  const int d = static_cast<int>(c.q.cols());
  const UnitWork fast = systolic_attention(c.mask, d, c.config, c.formats.num.data.bytes());
  const MaskedAttention want = masked_attention(c.q, c.kv, c.mask, c.formats.num);
  const sc_core::sc_time took = bench.send(c.job);
  const UnitWork& got = c.job.work;
  ASSERT_EQ(got.cycles, fast.cycles);
  EXPECT_EQ(took, sc_core::sc_time(static_cast<double>(fast.cycles), sc_core::SC_NS));
  EXPECT_EQ(got.stages, fast.stages);
  EXPECT_EQ(got.macs, fast.macs);
  EXPECT_EQ(got.pe_slots, fast.pe_slots);
  EXPECT_EQ(got.counts, fast.counts);
  EXPECT_EQ(got.sram_read_bytes, fast.sram_read_bytes);
  EXPECT_EQ(got.sram_write_bytes, fast.sram_write_bytes);
  // Every fold is R + C + K - 2 cycles of skewed MACs (the last PE's last
  // MAC), then (after_fold only) R cycles of drain.
  const auto& trace = unit.last_trace();
  for (const auto& s : trace) {
    if (s.phase == "qk_fold") {
      EXPECT_EQ(s.cycles, c.config.rows + c.config.cols + d - 2);
    } else if (s.phase == "qk_drain" || s.phase == "pv_drain") {
      EXPECT_EQ(s.cycles, c.config.rows);
    }
  }
  if (c.config.fold_drain == FoldDrain::in_skew) {
    for (const auto& s : trace) {
      EXPECT_TRUE(s.phase != "qk_drain" && s.phase != "pv_drain");
    }
  }
  const Diff diff = compare_results(c.job.result, want, tol);
  EXPECT_EQ(diff.count, 0) << diff.first;
}

void agreement(uint64_t seed, int optimised_tiles, const Shape& shape, double tol) {
  const int tiles = tile_count(optimised_tiles);
  SystolicArrayCycle unit("pe_array", os_config(4, 4), 1.0);
  Bench bench("bench", unit);
  int64_t cycles = 0, nnz = 0, partial = 0;
  run_bench(bench, [&] {
    Rng rng(seed);
    for (int i = 0; i < tiles && !testing::Test::HasFatalFailure(); ++i) {
      SCOPED_TRACE("tile " + std::to_string(i) + " of seed " + std::to_string(seed));
      Case c = random_case(rng, shape);
      check_case(bench, unit, c, tol);
      cycles += c.job.work.cycles;
      nnz += c.mask.nnz();
      partial += c.mask.rows % c.config.rows != 0 || c.mask.cols % c.config.cols != 0;
    }
  });
  EXPECT_EQ(unit.jobs(), tiles);
  EXPECT_EQ(unit.clocked_cycles(), cycles);
  EXPECT_GT(partial, tiles / 2);  // most tiles end in partial folds
  std::cout << "[ cycle    ] " << tiles << " tiles, " << cycles << " cycles, " << nnz << " nonzeros agree\n";
}

}  // namespace

// A GEMM with partial folds, by hand: A is 6 x 7, B is 7 x 5, on R = 4 rows and
// C = 3 columns. Output folds: rows {0-3, 4-5} x columns {0-2, 3-4} = 4 folds,
// three of them partial (padded with zero operands to the full 4 x 3 array).
// Row i of A enters i cycles late, column j of B j cycles late, so PE (i, j)
// does its MAC k in cycle i + j + k; the last PE (3, 2) finishes k = 6 in
// cycle 3 + 2 + 6 = 11: 12 cycles of MACs (R + C + K - 2), then 4 cycles to
// drain the 4 rows after the fold (SCALE-Sim v2): 16 = 2R + C + K - 2 per
// fold, 64 in all, however few of the fold's rows and columns are real. With
// the results leaving on the column buses as each PE finishes (SCALE-Sim v3),
// 12 per fold, 48.
TEST(SystolicCycle, PartialFoldGemmByHand) {
  SystolicConfig config = os_config(4, 3);
  SystolicArrayCycle unit("pe_array", config, 1.0);
  Bench bench("bench", unit);
  Rng rng(21);
  const MatD a = integer_matrix(rng, 6, 7), b = integer_matrix(rng, 7, 5);
  SystolicArrayCycle::GemmResult serial, overlapped;
  std::vector<std::pair<std::string, Cycles>> serial_trace, overlapped_trace;
  run_bench(bench, [&] {
    config.fold_drain = FoldDrain::after_fold;
    unit.reconfigure(config);
    serial = unit.gemm(a, b);
    for (const auto& s : unit.last_trace()) serial_trace.emplace_back(s.phase, s.cycles);
    config.fold_drain = FoldDrain::in_skew;
    unit.reconfigure(config);
    overlapped = unit.gemm(a, b);
    for (const auto& s : unit.last_trace()) overlapped_trace.emplace_back(s.phase, s.cycles);
  });
  EXPECT_EQ(serial.cycles, 64);
  EXPECT_EQ(serial.cycles, os_gemm(6, 5, 7, 4, 3, FoldDrain::after_fold).cycles);
  EXPECT_EQ(overlapped.cycles, 48);
  EXPECT_EQ(overlapped.cycles, os_gemm(6, 5, 7, 4, 3, FoldDrain::in_skew).cycles);
  for (const auto* g : {&serial, &overlapped}) {
    EXPECT_EQ(g->folds, 4);
    EXPECT_EQ(g->macs, 6 * 5 * 7);
    EXPECT_EQ(g->c, a * b);
  }
  std::vector<std::pair<std::string, Cycles>> want;
  for (int f = 0; f < 4; ++f) want.insert(want.end(), {{"fold", 12}, {"drain", 4}});
  EXPECT_EQ(serial_trace, want);
  want = {{"fold", 12}, {"fold", 12}, {"fold", 12}, {"fold", 12}};
  EXPECT_EQ(overlapped_trace, want);
}

// Random GEMM shapes against os_gemm(): cycles, folds, useful MACs, product.
TEST(SystolicCycle, RandomGemmsMatchTheFoldFormula) {
  SystolicArrayCycle unit("pe_array", os_config(2, 2), 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] {
    Rng rng(22);
    for (int i = 0; i < tile_count(300); ++i) {
      SystolicConfig c = os_config(uniform_int(rng, 1, 10), uniform_int(rng, 1, 10));
      c.fold_drain = uniform_int(rng, 0, 1) ? FoldDrain::after_fold : FoldDrain::in_skew;
      unit.reconfigure(c);
      const int m = uniform_int(rng, 1, 25), n = uniform_int(rng, 1, 25), k = uniform_int(rng, 1, 20);
      const MatD a = integer_matrix(rng, m, k), b = integer_matrix(rng, k, n);
      const auto g = unit.gemm(a, b);
      const GemmTiming want = os_gemm(m, n, k, c.rows, c.cols, c.fold_drain);
      ASSERT_EQ(g.cycles, want.cycles) << m << "x" << n << "x" << k << " on " << c.rows << "x" << c.cols;
      EXPECT_EQ(g.folds, want.folds);
      EXPECT_EQ(g.macs, want.macs);
      EXPECT_EQ(g.c, a * b);
    }
  });
}

// The fast model's hand-worked dense tile (test_systolic_timing.cpp): 8 x 8,
// d = 4, 4 x 4 array, 8 softmax lanes of latency 2, divide latency 3: QKᵀ 4
// folds of 14, softmax 64 / 8 + 2 = 10, PV 2 folds of 8 + 4 + 8 - 2 = 18,
// normalise 3 + 32 / 8 = 7: 109 cycles with serial drains.
TEST(SystolicCycle, DenseAttentionTileByHand) {
  Rng rng(23);
  Case c;
  c.config = os_config(4, 4);
  c.config.softmax_lanes = 8;
  c.config.softmax_latency_cycles = 2;
  c.config.divide_latency_cycles = 3;
  c.config.fold_drain = FoldDrain::after_fold;
  c.mask = CsrMask::full(8, 8, false, 0);
  c.formats = random_fixed_numerics(rng, 4);
  c.q = random_matrix(rng, 8, 4, 1.0);
  c.k = random_matrix(rng, 8, 4, 1.0);
  c.v = random_matrix(rng, 8, 4, 1.0);
  c.finish();
  SystolicArrayCycle unit("pe_array", c.config, 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] { check_case(bench, unit, c, 0.0); });
  EXPECT_EQ(c.job.work.cycles, 56 + 10 + 36 + 7);
}

TEST(SystolicCycle, EmptyMaskAndEmptyTile) {
  Rng rng(24);
  SystolicArrayCycle unit("pe_array", os_config(3, 2), 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] {
    for (int rows : {5, 0}) {
      Case c;
      c.config = os_config(3, 2);
      c.mask.cols = 7;
      for (int r = 0; r < rows; ++r) c.mask.add_row({});
      c.formats = random_fixed_numerics(rng, 3);
      c.q = random_matrix(rng, rows, 3, 1.0);
      c.k = random_matrix(rng, 7, 3, 1.0);
      c.v = random_matrix(rng, 7, 3, 1.0);
      c.finish();
      check_case(bench, unit, c, 0.0);
    }
  });
}

TEST(SystolicCycleAgreement, RandomFixedPointTiles) { agreement(31, 1500, Shape{}, 0.0); }

TEST(SystolicCycleAgreement, RandomCausalTiles) {
  Shape sh;
  sh.causal = true;
  agreement(32, 1000, sh, 0.0);
}

TEST(SystolicCycleAgreement, RandomFp32Tiles) {
  Shape sh;
  sh.fp32 = true;
  agreement(33, 400, sh, 1e-5);
}

// At the dense preset's scale (configs/arch/dense_systolic.json: 32 x 32,
// fixed16.8): dense 64-query tiles of 128 keys, d = 64, causal and not.
TEST(SystolicCycleAgreement, PresetScaleDenseTiles) {
  Rng rng(34);
  SystolicArrayCycle unit("pe_array", os_config(32, 32), 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] {
    for (int t = 0; t < 2; ++t) {
      Case c;
      c.config = os_config(32, 32);
      c.q = random_matrix(rng, 64, 64, 1.0);
      c.k = random_matrix(rng, 128, 64, 1.0);
      c.v = random_matrix(rng, 128, 64, 1.0);
      c.mask = CsrMask::full(64, 128, t == 1, 64);
      c.formats.num = {NumberFormat::parse("fixed16.8"), NumberFormat::parse("fixed16.14"), ExpUnit::parse("exact"), 0.125};  // the dense_systolic preset
      c.formats.name = "preset";
      c.finish();
      check_case(bench, unit, c, 0.0);
    }
  });
}

// A timing-only job (values known from the functional cache) gets its cycles
// and leaves its result alone.
TEST(SystolicCycle, TimingOnlyJobsKeepTheirResult) {
  Rng rng(25);
  SystolicArrayCycle unit("pe_array", os_config(4, 4), 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] {
    for (int i = 0; i < 10; ++i) {
      Case c = random_case(rng, Shape{});
      c.bind();
      c.job.timing_only = true;
      unit.reconfigure(c.config);
      bench.send(c.job);
      EXPECT_EQ(c.job.work.cycles,
                systolic_attention(c.mask, c.q.cols(), c.config, c.formats.num.data.bytes()).cycles);
      EXPECT_TRUE(c.job.result.scores.empty());
      EXPECT_EQ(c.job.result.output.size(), 0);
    }
  });
}
