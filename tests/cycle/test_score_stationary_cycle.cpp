// The register-level score-stationary array against the fast model: the same
// cycle count (and stage breakdown, pass by pass) as score_stationary_tile(),
// and the functional kernel's values bit for bit in fixed point.
#include <gtest/gtest.h>

#include "kernels/pack_split.h"
#include "kernels/sanger_predict.h"
#include "workload/synthetic.h"
#include "sanger/sanger_timing.h"
#include "sanger/score_stationary_cycle.h"
#include "testbench.h"

using namespace attnsim;
using namespace attnsim::cycle_test;

namespace {

ScoreStationaryConfig ss_config(int rows, int pes_per_row) {
  ScoreStationaryConfig c;
  c.rows = rows;
  c.pes_per_row = pes_per_row;
  return c;
}

// One tile and everything both fidelities need.
struct Case {
  ScoreStationaryConfig config;
  int width = 8;
  MatF q, k, v;
  CsrMask mask;
  PackSplitSchedule schedule;
  Formats formats;
  HeadOperands kv;
  std::vector<float> hint;  // row_max = predictor: the given maxima
  ComputeJob job;
  std::string describe() const {
    std::ostringstream s;
    s << "R=" << config.rows << " P=" << config.pes_per_row << " W=" << width << " d=" << q.cols()
      << " rows=" << mask.rows << " cols=" << mask.cols << " nnz=" << mask.nnz() << " " << formats.name
      << " clear=" << config.clear_cycles << " switch=" << config.switch_cycles << " exp=" << config.exp_latency_cycles
      << " io=" << config.io_latency_cycles << " div=" << config.divide_latency_cycles
      << " sync=" << sweep_sync_name(config.sweep_sync)
      << " row_max=" << (config.row_max == RowMaxSource::pass ? "pass" : "predictor");
    return s.str();
  }
  void finish() {
    schedule = pack_split(mask, width, config.pes_per_row);
    kv = prepare_operands(k, v, formats.num.data);
    bind();
  }
  // The job points into this case: bind again after the case was copied.
  void bind() {
    job = ComputeJob{};
    job.q_tile = &q;
    job.kv = &kv;
    job.mask = &mask;
    job.schedule = &schedule;
    job.numerics = formats.num;
  }
};

struct Shape {
  int max_rows = 16, max_width = 64, max_pes = 32, min_d = 4, max_d = 64;
  bool causal = false, vary_latencies = true, fp32 = false;
};

// A random tile small enough that the register-level model handles it in a few
// milliseconds (shapes are redrawn until the fast formula's cycle count times
// the registers updated per cycle is within budget).
Case random_case(Rng& rng, const Shape& sh) {
  for (;;) {
    Case c;
    const int width = uniform_int(rng, 8, sh.max_width);
    const int pes = uniform_int(rng, 1, std::min(sh.max_pes, width));
    c.config = ss_config(uniform_int(rng, 1, sh.max_rows), pes);
    c.width = width;
    c.config.sweep_sync = uniform_int(rng, 0, 1) ? SweepSync::barrier : SweepSync::wavefront;
    c.config.row_max = uniform_int(rng, 0, 1) ? RowMaxSource::pass : RowMaxSource::predictor;
    if (sh.vary_latencies) {
      c.config.clear_cycles = uniform_int(rng, 0, 2);
      c.config.switch_cycles = uniform_int(rng, 0, 2);
      c.config.exp_latency_cycles = uniform_int(rng, 0, 3);
      c.config.io_latency_cycles = uniform_int(rng, 2, 4);
      c.config.divide_latency_cycles = uniform_int(rng, 0, 24);
    }
    const int d = uniform_int(rng, sh.min_d, sh.max_d);
    const int rows = uniform_int(rng, 1, 24);
    const int cols = uniform_int(rng, 1, 3 * width);
    const int row0 = sh.causal ? uniform_int(rng, 0, std::max(0, cols - rows)) : 0;
    c.mask = random_mask(rng, rows, cols, width, sh.causal, row0);
    c.formats = sh.fp32 ? fp32_numerics(rng, d) : random_fixed_numerics(rng, d);
    const double amp = pick(rng, std::vector<double>{0.25, 1.0, 2.0, 4.0});
    c.q = random_matrix(rng, rows, d, amp);
    c.k = random_matrix(rng, cols, d, amp);
    c.v = random_matrix(rng, cols, d, amp);
    c.finish();
    const UnitWork fast = score_stationary_tile(c.schedule, rows, d, c.config);
    const double work = static_cast<double>(fast.cycles) * c.config.rows * (2.0 * width + 3.0 * pes);
    if (work <= 5e6) return c;
  }
}

// Runs one case through the unit and checks it against the fast model.
void check_case(Bench& bench, ScoreStationaryArrayCycle& unit, Case& c, double period_ns, double tol) {
  SCOPED_TRACE(c.describe());
  c.bind();
  unit.reconfigure(c.config, c.width);
  const int d = static_cast<int>(c.q.cols());
  const ScoreStationaryConfig& p = c.config;
  // row_max = predictor: a stand-in for the predictor's maxima, off by up to
  // +-2 from each row's own (exp above 1 and far below it both happen).
  if (c.config.row_max == RowMaxSource::predictor) {
    const MaskedAttention own = masked_attention(c.q, c.kv, c.mask, c.formats.num);
    c.hint.assign(c.mask.rows, 0.0f);
    for (int r = 0; r < c.mask.rows; ++r) {
      float m = -1e30f;
      for (int t = c.mask.indptr[r]; t < c.mask.indptr[r + 1]; ++t) m = std::max(m, own.scores[t]);
      c.hint[r] = c.mask.row_nnz(r) ? m + 0.37f * static_cast<float>((r * 7) % 11 - 5) : 0.0f;
    }
    c.job.numerics.row_max = &c.hint;
  }
  const UnitWork fast = score_stationary_tile(c.schedule, c.mask.rows, d, p);
  const MaskedAttention want = masked_attention(c.q, c.kv, c.mask, c.job.numerics);
  const sc_core::sc_time took = bench.send(c.job);
  const UnitWork& got = c.job.work;

  ASSERT_EQ(got.cycles, fast.cycles);
  EXPECT_EQ(took, sc_core::sc_time(period_ns * static_cast<double>(fast.cycles), sc_core::SC_NS));
  EXPECT_EQ(got.stages, fast.stages);
  EXPECT_EQ(got.macs, fast.macs);
  EXPECT_EQ(got.pe_slots, fast.pe_slots);
  EXPECT_EQ(got.counts, fast.counts);
  // Buffer traffic as the fast unit charges it (ScoreStationaryArray::run):
  // Q twice (maximum pass, pass proper) and output once per sub-row; K twice
  // and V once per pass, at most a whole segment each time (the feeder
  // streams a pass's columns up to its last nonzero column).
  const int64_t b = c.formats.num.data.bytes(), sub = c.schedule.subrows, passes = fast.counts.at("passes");
  const int64_t reads = p.row_max == RowMaxSource::pass ? 2 : 1;
  EXPECT_EQ(got.sram_read_bytes.at("q"), reads * sub * d * b);
  EXPECT_EQ(got.sram_read_bytes.at("output"), sub * d * b);
  EXPECT_EQ(got.sram_write_bytes.at("output"), sub * d * b);
  EXPECT_LE(got.sram_read_bytes.at("k"), reads * passes * c.width * d * b);
  EXPECT_EQ(got.sram_read_bytes.at("k"), reads * got.sram_read_bytes.at("v"));
  // Pass by pass, each sweep is pass_timing()'s: first every pass's maximum
  // SDDMM, then every pass's SDDMM and SpMM (barrier: each with its skew;
  // wavefront: one sweep phase with switch, exp and one skew).
  std::vector<Cycles> sweeps;
  for (const auto& s : unit.last_trace())
    if (s.phase == "max_sddmm" || s.phase == "sddmm" || s.phase == "spmm" || s.phase == "sweep")
      sweeps.push_back(s.cycles);
  std::vector<Cycles> max_sweeps, want_sweeps;
  for (const auto& seg : c.schedule.segments)
    for (size_t first = 0; first < seg.subrows.size(); first += p.rows) {
      const int count = static_cast<int>(std::min<size_t>(p.rows, seg.subrows.size() - first));
      const PassTiming t = pass_timing(&seg.subrows[first], count, d, p);
      if (p.row_max == RowMaxSource::pass) max_sweeps.push_back(t.max_sweep);
      if (p.sweep_sync == SweepSync::barrier) {
        want_sweeps.push_back(t.sddmm + t.skew / 2);
        want_sweeps.push_back(t.spmm + t.skew / 2);
      } else {
        want_sweeps.push_back(t.sddmm + t.spmm + t.skew + p.switch_cycles + p.exp_latency_cycles);
      }
    }
  want_sweeps.insert(want_sweeps.begin(), max_sweeps.begin(), max_sweeps.end());
  EXPECT_EQ(sweeps, want_sweeps);

  const Diff diff = compare_results(c.job.result, want, tol);
  EXPECT_EQ(diff.count, 0) << diff.first;
  EXPECT_EQ(c.job.result.exp_saturated, want.exp_saturated);  // the same saturated exp registers
}

// Many random tiles through one module (reconfigured between jobs).
void agreement(uint64_t seed, int optimised_tiles, const Shape& shape, double tol) {
  const int tiles = tile_count(optimised_tiles);
  ScoreStationaryArrayCycle unit("pe_array", ss_config(4, 2), 8, 1.0);
  Bench bench("bench", unit);
  int64_t cycles = 0, nnz = 0, subrows = 0, bubbles = 0, empty_rows = 0;
  int max_r = 0, max_p = 0, max_w = 0, max_d = 0;
  run_bench(bench, [&] {
    Rng rng(seed);
    for (int i = 0; i < tiles && !testing::Test::HasFatalFailure(); ++i) {
      SCOPED_TRACE("tile " + std::to_string(i) + " of seed " + std::to_string(seed));
      Case c = random_case(rng, shape);
      check_case(bench, unit, c, 1.0, tol);
      cycles += c.job.work.cycles;
      nnz += c.mask.nnz();
      subrows += c.schedule.subrows;
      bubbles += c.job.work.counts["bubble_pe_cycles"];
      for (int r = 0; r < c.mask.rows; ++r) empty_rows += c.mask.row_nnz(r) == 0;
      max_r = std::max(max_r, c.config.rows);
      max_p = std::max(max_p, c.config.pes_per_row);
      max_w = std::max(max_w, c.width);
      max_d = std::max(max_d, static_cast<int>(c.q.cols()));
    }
  });
  EXPECT_EQ(unit.jobs(), tiles);
  EXPECT_EQ(unit.clocked_cycles(), cycles);  // no idle cycle between back-to-back jobs
  // The sample really covers sparse, bubbly and empty work.
  EXPECT_GT(bubbles, 0);
  EXPECT_GT(empty_rows, 0);
  std::cout << "[ cycle    ] " << tiles << " tiles, " << cycles << " cycles, " << nnz << " nonzeros, " << subrows
            << " sub-rows, " << bubbles << " bubble PE-cycles agree (R <= " << max_r << ", P <= " << max_p
            << ", W <= " << max_w << ", d <= " << max_d << ")\n";
}

}  // namespace

// The paper's test tile (REFERENCE.md; pe_row_test.scala): 8 x 8, d = 8, 4 PEs
// per row, here dense. W = 8, P = 4: each query row splits into sub-rows with
// columns 0-3 (last_col 3) and 4-7 (last_col 7); 16 sub-rows on 8 array rows
// are 2 passes. In each pass array row 7 holds a last_col-7 sub-row, so the
// SDDMM sweep is max(r + last_col) + d + io = (7 + 7) + 8 + 2 = 24 cycles:
// its last MAC (Q and K element 7 meeting at row 7, column 7) is in cycle
// 7 + 7 + 7 + 1 (operand register) = 22, the score register is written in 23.
// SpMM the same (the row's last output leaves the last PE in cycle 23).
// First each pass for the row maxima: clear 1, SDDMM 24, max drain 4 + 1 =
// 30, two passes 60; then per pass: clear 1, SDDMM 24, switch 1, exp 2,
// SpMM 24, drain 5 = 57, two passes 114; normalise: one group of 8 rows,
// divide 20 + ceil(8 / 4) = 22; 60 + 114 + 22 = 196.
namespace {
// The paper's dense 8 x 8 tile (d = 8, 4 PEs per row) under one sweep mode:
// its cycles and its trace, the two row-maximum passes then the two passes
// proper (each given as its phases) and the normalise group.
void paper_tile(SweepSync sync, Cycles cycles, const std::vector<std::pair<std::string, Cycles>>& pass,
                Cycles skew) {
  Rng rng(1);
  Case c;
  c.config = ss_config(8, 4);
  c.config.sweep_sync = sync;
  c.width = 8;
  c.mask = CsrMask::full(8, 8, false, 0);
  c.formats = random_fixed_numerics(rng, 8);
  c.formats.num.data = NumberFormat::parse("fixed16.8");
  c.formats.num.prob = NumberFormat::parse("fixed16.14");
  c.q = random_matrix(rng, 8, 8, 1.0);
  c.k = random_matrix(rng, 8, 8, 1.0);
  c.v = random_matrix(rng, 8, 8, 1.0);
  c.finish();
  ScoreStationaryArrayCycle unit("pe_array", c.config, 8, 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] { check_case(bench, unit, c, 1.0, 0.0); });
  EXPECT_EQ(c.job.work.cycles, cycles);
  std::vector<std::pair<std::string, Cycles>> got;
  for (const auto& s : unit.last_trace()) got.emplace_back(s.phase, s.cycles);
  const std::vector<std::pair<std::string, Cycles>> max_pass = {{"max_clear", 1}, {"max_sddmm", 24}, {"max_drain", 5}};
  std::vector<std::pair<std::string, Cycles>> want = max_pass;
  want.insert(want.end(), max_pass.begin(), max_pass.end());
  want.insert(want.end(), pass.begin(), pass.end());
  want.insert(want.end(), pass.begin(), pass.end());
  want.emplace_back("normalise", 22);
  EXPECT_EQ(got, want);
  EXPECT_EQ(c.job.work.stages.at("sddmm"), 2 * (8 + 2));
  EXPECT_EQ(c.job.work.stages.at("skew"), skew);
  EXPECT_EQ(c.job.work.stages.at("row_max"), 60);
}
}  // namespace

TEST(ScoreStationaryCycle, PaperTestTileDense) {
  paper_tile(SweepSync::barrier, 196,
             {{"clear", 1}, {"sddmm", 24}, {"switch", 1}, {"exp", 2}, {"spmm", 24}, {"drain", 5}}, 2 * 2 * 14);
}

// The same tile with wavefront sweeps: V follows K down each column
// d + io + switch + exp = 13 cycles later, so a PE starts SpMM as soon as its
// own exp register is loaded; the pass's sweep is 2 (8 + 2) + 1 + 2 + the
// skew 14 once = 37 (barrier: 24 + 1 + 2 + 24 = 51). Per pass: clear 1, sweep
// 37, drain 5 = 43; 60 + 86 + 22 = 168.
TEST(ScoreStationaryCycle, PaperTestTileWavefront) {
  paper_tile(SweepSync::wavefront, 168, {{"clear", 1}, {"sweep", 37}, {"drain", 5}}, 2 * 14);
}

// The Chisel test's pattern: 4 random columns of 8 in every row (one sub-row
// per row, one pass). Row 7 here keeps column 7, so SDDMM is 24 again; rows
// with bubbles between their columns are configured with delays c4 = gap - 1.
TEST(ScoreStationaryCycle, PaperChiselTestPattern) {
  Rng rng(2);
  Case c;
  c.config = ss_config(8, 4);
  c.config.sweep_sync = SweepSync::barrier;
  c.width = 8;
  c.mask.cols = 8;
  for (int r = 0; r < 8; ++r) {
    std::vector<int32_t> cols = {0, 1, 2, 3, 4, 5, 6, 7};
    if (r == 7) {  // three of columns 0-6, and 7
      std::shuffle(cols.begin(), cols.end() - 1, rng);
      cols = {cols[0], cols[1], cols[2], 7};
    } else {
      std::shuffle(cols.begin(), cols.end(), rng);
      cols.resize(4);
    }
    std::sort(cols.begin(), cols.end());
    c.mask.add_row(cols);
  }
  c.formats = random_fixed_numerics(rng, 8);
  c.q = random_matrix(rng, 8, 8, 1.0);
  c.k = random_matrix(rng, 8, 8, 1.0);
  c.v = random_matrix(rng, 8, 8, 1.0);
  c.finish();
  ScoreStationaryArrayCycle unit("pe_array", c.config, 8, 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] { check_case(bench, unit, c, 1.0, 0.0); });
  ASSERT_EQ(unit.last_trace().size(), 10u);  // max_clear, max_sddmm, max_drain, 6 phases of the pass, normalise
  EXPECT_EQ(unit.last_trace()[1].cycles, 24);
  EXPECT_EQ(unit.last_trace()[4].cycles, 24);
}

// Placement in the bubble buffers: two nonzeros at columns 0 and W - 1 need
// W - 1 cycles between their PEs, more than one PE's W - P delay entries: the
// partial sum goes through an idle PE's buffer too.
TEST(ScoreStationaryCycle, LongBubblesSpreadOverIdlePes) {
  Rng rng(3);
  Case c;
  c.config = ss_config(2, 4);
  c.config.sweep_sync = SweepSync::barrier;
  c.width = 16;
  c.mask.cols = 16;
  c.mask.add_row({0, 15});
  c.mask.add_row({0, 1, 14, 15});
  c.formats = random_fixed_numerics(rng, 5);
  c.q = random_matrix(rng, 2, 5, 1.0);
  c.k = random_matrix(rng, 16, 5, 1.0);
  c.v = random_matrix(rng, 16, 5, 1.0);
  c.finish();
  ScoreStationaryArrayCycle unit("pe_array", c.config, 16, 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] { check_case(bench, unit, c, 1.0, 0.0); });
  // max(0 + 15, 1 + 15) + 5 + 2, in the maximum pass and the pass proper
  EXPECT_EQ(unit.last_trace()[1].cycles, 23);
  EXPECT_EQ(unit.last_trace()[4].cycles, 23);
}

// Zero-cycle control phases (their register actions happen at the edge that
// ends the phase before), an empty mask (normalise only), a tile of no rows.
TEST(ScoreStationaryCycle, DegenerateTilesAndZeroLatencies) {
  Rng rng(4);
  ScoreStationaryArrayCycle unit("pe_array", ss_config(4, 2), 8, 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] {
    for (int variant = 0; variant < 4; ++variant) {
      Case c;
      c.config = ss_config(4, 2);
      c.config.clear_cycles = c.config.switch_cycles = c.config.exp_latency_cycles = 0;
      c.config.divide_latency_cycles = variant % 2 ? 0 : 3;
      c.width = 8;
      const int rows = variant == 3 ? 0 : 5;
      c.mask.cols = 12;
      for (int r = 0; r < rows; ++r) c.mask.add_row(variant >= 2 ? std::vector<int32_t>{} : std::vector<int32_t>{r, 11});
      c.formats = random_fixed_numerics(rng, 6);
      c.q = random_matrix(rng, rows, 6, 1.0);
      c.k = random_matrix(rng, 12, 6, 1.0);
      c.v = random_matrix(rng, 12, 6, 1.0);
      c.finish();
      check_case(bench, unit, c, 1.0, 0.0);
    }
  });
}

// Jobs arriving between clock edges start at the next edge; the clock period
// follows clock_ghz; back-to-back jobs leave no idle cycle.
TEST(ScoreStationaryCycle, ClockAlignmentAndPeriod) {
  Rng rng(5);
  ScoreStationaryArrayCycle unit("pe_array", ss_config(4, 4), 16, 0.5);  // 2 ns
  Bench bench("bench", unit);
  run_bench(bench, [&] {
    Shape sh;
    sh.max_rows = 4;
    sh.max_width = 16;
    sh.max_pes = 4;
    sh.max_d = 8;
    for (int i = 0; i < 20; ++i) {
      Case c = random_case(rng, sh);
      c.bind();
      unit.reconfigure(c.config, c.width);
      if (i % 3 == 0) sc_core::wait(sc_core::sc_time(0.7, sc_core::SC_NS));  // off the clock edge
      const sc_core::sc_time before = sc_core::sc_time_stamp();
      const double misalign = std::fmod(before.to_seconds() * 1e9, 2.0);
      const sc_core::sc_time took = bench.send(c.job);
      const double wait_ns = misalign > 1e-9 ? 2.0 - misalign : 0.0;
      EXPECT_NEAR(took.to_seconds() * 1e9, wait_ns + 2.0 * static_cast<double>(c.job.work.cycles), 1e-6);
      const UnitWork fast = score_stationary_tile(c.schedule, c.mask.rows, c.q.cols(), c.config);
      EXPECT_EQ(c.job.work.cycles, fast.cycles);
    }
  });
}

// io_latency counts the array's operand register and the PE result register,
// which a register-level datapath cannot do without: below 2 the formula
// undercounts each sweep by 2 - io_latency (docs/fidelity.md).
TEST(ScoreStationaryCycle, IoLatencyBelowTheTwoRegistersIsUndercounted) {
  Rng rng(6);
  ScoreStationaryArrayCycle unit("pe_array", ss_config(4, 2), 8, 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] {
    Shape sh;
    sh.max_rows = 6;
    sh.max_width = 24;
    sh.max_pes = 8;
    sh.max_d = 16;
    sh.vary_latencies = false;
    for (int i = 0; i < 40; ++i) {
      Case c = random_case(rng, sh);
      c.bind();
      c.config.io_latency_cycles = i % 2;
      unit.reconfigure(c.config, c.width);
      bench.send(c.job);
      const UnitWork fast =
          score_stationary_tile(c.schedule, c.mask.rows, c.q.cols(), c.config);
      const int64_t passes = fast.counts.at("passes");
      // Three sweeps per pass: the maximum pass's SDDMM (row_max = pass), SDDMM, SpMM.
      const int sweeps = c.config.row_max == RowMaxSource::pass ? 3 : 2;
      EXPECT_EQ(c.job.work.cycles - fast.cycles, sweeps * passes * (2 - c.config.io_latency_cycles));
      const MaskedAttention want = masked_attention(c.q, c.kv, c.mask, c.job.numerics);
      EXPECT_EQ(compare_results(c.job.result, want, 0.0).count, 0);
    }
  });
}

// Thousands of random tiles: densities 0-1 (empty, full, single-nonzero,
// bubble-heavy, strided, banded rows), W 8-64, P 1-32, R 1-16, d 4-64, all
// control latencies varied; fixed-point formats compared bit for bit.
TEST(ScoreStationaryCycleAgreement, RandomFixedPointTiles) { agreement(11, 1500, Shape{}, 0.0); }

TEST(ScoreStationaryCycleAgreement, RandomCausalTiles) {
  Shape sh;
  sh.causal = true;
  agreement(12, 1000, sh, 0.0);
}

TEST(ScoreStationaryCycleAgreement, SmallArraysManyPasses) {
  Shape sh;
  sh.max_rows = 3;
  sh.max_width = 16;
  sh.max_pes = 4;
  sh.max_d = 12;
  agreement(13, 1500, sh, 0.0);
}

// fp32: the same cycles; values to a relative 1e-5 (the array sums a row's
// products in another order than the functional kernel).
TEST(ScoreStationaryCycleAgreement, RandomFp32Tiles) {
  Shape sh;
  sh.fp32 = true;
  agreement(14, 400, sh, 1e-5);
}

// At the preset's scale (configs/arch/sanger.json: 64 rows x 16 PEs, segments
// of 64, fixed16.8 / fixed16.14, pwl6), on masks from Sanger's predictor over
// a BERT-shaped synthetic head: 64-query tiles of 256 keys, d = 64.
TEST(ScoreStationaryCycleAgreement, PresetScalePredictedTiles) {
  MatF q, k, v;
  generate_head(SyntheticParams{}, 256, 64, 0, 0, 0, q, k, v);
  PredictorParams pp;
  pp.scale = 0.125;
  const HeadQuant hq = quantize_head(q, k, 4);
  ScoreStationaryArrayCycle unit("pe_array", ss_config(64, 16), 64, 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] {
    for (int t = 0; t < 4; ++t) {
      Case c;
      c.config = ss_config(64, 16);
      c.width = 64;
      c.q = q.middleRows(t * 64, 64);
      c.k = k;
      c.v = v;
      c.mask = predict_tile(hq, t * 64, 64, pp).mask;
      c.formats.num = {NumberFormat::parse("fixed16.8"), NumberFormat::parse("fixed16.14"), ExpUnit::parse("pwl6"), 0.125};  // the sanger preset
      c.formats.name = "preset";
      c.finish();
      check_case(bench, unit, c, 1.0, 0.0);
    }
  });
}

// A timing-only job (values known from the functional cache) gets its cycles
// and leaves its result alone.
TEST(ScoreStationaryCycle, TimingOnlyJobsKeepTheirResult) {
  Rng rng(7);
  ScoreStationaryArrayCycle unit("pe_array", ss_config(4, 2), 8, 1.0);
  Bench bench("bench", unit);
  run_bench(bench, [&] {
    Shape sh;
    sh.max_rows = 6;
    sh.max_width = 24;
    sh.max_d = 16;
    for (int i = 0; i < 10; ++i) {
      Case c = random_case(rng, sh);
      c.bind();
      c.job.timing_only = true;
      unit.reconfigure(c.config, c.width);
      bench.send(c.job);
      EXPECT_EQ(c.job.work.cycles,
                score_stationary_tile(c.schedule, c.mask.rows, c.q.cols(), c.config).cycles);
      EXPECT_TRUE(c.job.result.scores.empty());
      EXPECT_EQ(c.job.result.output.size(), 0);
    }
  });
}
