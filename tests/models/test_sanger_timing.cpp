#include <gtest/gtest.h>

#include "sanger/sanger_timing.h"

using namespace attnsim;

TEST(SangerTiming, PaperTestTileSddmmIs24Cycles) {
  // 8 rows, last column offset 7 in every row, d = 8, 2 I/O register cycles.
  EXPECT_EQ(sweep_cycles(std::vector<int>(8, 7), 8, 2), 7 + 7 + 8 + 2);
}

TEST(SangerTiming, Dense64TileMatchesTheRepositoryCostModel) {
  // 64 x 64 tile, 16 PEs per row: 4 passes of 192 cycles = 768.
  EXPECT_EQ(sweep_cycles(std::vector<int>(64, 63), 64, 2), 192);
}

TEST(SangerTiming, SweepDependsOnTheSlowestRow) {
  EXPECT_EQ(sweep_cycles({3, 0, 1}, 4, 0), 3 + 4);  // row 0: 0 + 3
  EXPECT_EQ(sweep_cycles({0, 0, 5}, 4, 0), 2 + 5 + 4);
  EXPECT_EQ(sweep_cycles({}, 4, 2), 0);
}

TEST(SangerTiming, DenseTileByHand) {
  // 8 queries x 8 keys dense, W = 8, P = 4 -> 16 sub-rows, R = 8 rows -> 2 passes.
  ScoreStationaryConfig p;
  p.rows = 8;
  p.pes_per_row = 4;
  p.divide_latency_cycles = 20;
  p.sweep_sync = SweepSync::barrier;
  const auto s = pack_split(CsrMask::full(8, 8, false, 0), 8, 4);
  UnitWork w = score_stationary_tile(s, 8, 8, p);
  // Each pass: sub-rows alternate last_col 3 and 7, so the skew max(r + c) =
  // 7 + 7; a sweep streams d + io = 10 cycles. Barrier: SDDMM = SpMM = 14 +
  // 10 = 24 (the paper's trace); overhead = clear 1 + switch 1 + exp 2 + drain
  // 5; before them, the pass for the row maxima: clear 1 + SDDMM 24 + max drain 5.
  EXPECT_EQ(w.stages.at("row_max"), 2 * 30);
  EXPECT_EQ(w.stages.at("sddmm"), 2 * 10);
  EXPECT_EQ(w.stages.at("spmm"), 2 * 10);
  EXPECT_EQ(w.stages.at("skew"), 2 * 2 * 14);
  EXPECT_EQ(w.stages.at("exp_and_control"), 2 * 9);
  EXPECT_EQ(w.stages.at("normalise"), 20 + 2);
  EXPECT_EQ(w.cycles, 60 + 48 + 48 + 18 + 22);
  EXPECT_EQ(w.counts.at("passes"), 2);
  EXPECT_EQ(w.macs, 3 * 64 * 8);       // SDDMM twice (maximum, scores), SpMM once
  EXPECT_EQ(w.pe_slots, 144 * 32);     // three sweeps of 24 per pass on 8 x 4 PEs
  // Wavefront: the skew once per pass.
  p.sweep_sync = SweepSync::wavefront;
  w = score_stationary_tile(s, 8, 8, p);
  EXPECT_EQ(w.stages.at("skew"), 2 * 14);
  EXPECT_EQ(w.cycles, 60 + 20 + 20 + 28 + 18 + 22);
  EXPECT_EQ(w.pe_slots, (48 + 20 + 20 + 28) * 32);
}

TEST(SangerTiming, RowMaximumPassCostsClearSweepAndDrain) {
  // A dense 64 x 64 tile, d = 64, on 64 x 16: 4 passes of clear 1 + 192 +
  // switch 1 + exp 2 + 192 + drain 17 = 405, each first run for the row
  // maxima: clear 1 + 192 + 17 = 210 (the paper's and the repository's cost
  // models have no such pass: docs/fidelity.md, "The row maximum").
  ScoreStationaryConfig p;
  p.rows = 64;
  p.pes_per_row = 16;
  p.sweep_sync = SweepSync::barrier;
  const auto s = pack_split(CsrMask::full(64, 64, false, 0), 64, 16);
  UnitWork w = score_stationary_tile(s, 64, 64, p);
  EXPECT_EQ(w.counts.at("passes"), 4);
  EXPECT_EQ(w.stages.at("row_max"), 4 * 210);
  EXPECT_EQ(w.cycles - w.stages.at("normalise"), 4 * (405 + 210));
  // Wavefront: clear 1 + 66 + 66 + skew 126 + switch 1 + exp 2 + drain 17 = 279.
  p.sweep_sync = SweepSync::wavefront;
  w = score_stationary_tile(s, 64, 64, p);
  EXPECT_EQ(w.stages.at("row_max"), 4 * 210);
  EXPECT_EQ(w.cycles - w.stages.at("normalise"), 4 * (279 + 210));
}

TEST(SangerTiming, SparserTilesTakeFewerPassesAndCountBubbles) {
  CsrMask m;
  m.cols = 8;
  for (int r = 0; r < 8; ++r) m.add_row({0, 2});  // one bubble per row
  ScoreStationaryConfig p;
  p.rows = 8;
  p.pes_per_row = 4;
  const auto s = pack_split(m, 8, 4);
  const UnitWork w = score_stationary_tile(s, 8, 8, p);
  EXPECT_EQ(w.counts.at("passes"), 1);
  EXPECT_EQ(w.counts.at("bubble_pe_cycles"), 8);
  EXPECT_EQ(w.stages.at("sddmm"), 8 + 2);
  EXPECT_EQ(w.stages.at("skew"), 7 + 2);  // row 7's last column 2, once (wavefront)
}

TEST(SangerTiming, PredictorAndEncoder) {
  // 64 queries x 256 keys, d = 32 on a 64x64 array: 4 folds of 64+64+32-2
  // (2*64+64+32-2 when the results shift out after each fold).
  const UnitWork w = predictor_tile(64, 64 * 256, 256, 32, 64, 64, 64, 8);
  EXPECT_EQ(w.stages.at("low_bit_qk"), 4 * 158);
  EXPECT_EQ(predictor_tile(64, 64 * 256, 256, 32, 64, 64, 64, 8, FoldDrain::after_fold).stages.at("low_bit_qk"),
            4 * 222);
  EXPECT_EQ(w.stages.at("softmax_threshold"), 256 + 8);
  const auto s = pack_split(CsrMask::full(10, 130, false, 0), 64, 16);  // 3 segments per row
  EXPECT_EQ(encoder_tile(s, 1).cycles, 30);
  EXPECT_EQ(encoder_tile(s, 4).cycles, 8);
}
