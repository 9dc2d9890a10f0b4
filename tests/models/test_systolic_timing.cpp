#include <gtest/gtest.h>

#include "systolic/systolic_timing.h"

using namespace attnsim;

// SCALE-Sim v3 OS fold (results leave in the skew): K + R + C - 2; v2 (they
// shift out after the fold): 2R + C + K - 2.
TEST(SystolicTiming, FoldFormula) {
  EXPECT_EQ(os_fold_cycles(4, 4, 8), 14);
  EXPECT_EQ(os_fold_cycles(32, 32, 64), 126);
  EXPECT_EQ(os_fold_cycles(1, 1, 1), 1);  // one MAC
  EXPECT_EQ(os_fold_cycles(4, 4, 8, FoldDrain::after_fold), 18);
  EXPECT_EQ(os_fold_cycles(32, 32, 64, FoldDrain::after_fold), 158);
  EXPECT_EQ(os_fold_cycles(1, 1, 1, FoldDrain::after_fold), 2);  // one MAC, one drain cycle
}

TEST(SystolicTiming, PartialFoldsPayTheFullArray) {
  // M=5 on R=4 -> 2 row folds (4 + 1 rows); N=3 on C=4 -> 1 column fold.
  const GemmTiming g = os_gemm(5, 3, 2, 4, 4);
  EXPECT_EQ(g.folds, 2);
  EXPECT_EQ(g.cycles, 2 * (2 + 4 + 4 - 2));
  EXPECT_EQ(g.macs, 5 * 3 * 2);
  EXPECT_EQ(g.pe_slots, g.cycles * 16);
  const GemmTiming s = os_gemm(5, 3, 2, 4, 4, FoldDrain::after_fold);
  EXPECT_EQ(s.cycles, 2 * (8 + 4 + 2 - 2));
}

// The QKᵀ of a 512 x 512 x 64 head on 32 x 32: SCALE-Sim v3 reports
// 32,255 (tests/reference holds every case of the reference run).
TEST(SystolicTiming, QkOfA512HeadAsScaleSimV3) {
  const GemmTiming g = os_gemm(512, 512, 64, 32, 32);
  EXPECT_EQ(g.cycles - 1, 32255);  // SCALE-Sim reports the last cycle's 0-based index
  EXPECT_EQ(os_gemm(512, 512, 64, 32, 32, FoldDrain::after_fold).cycles, 40448);
}

TEST(SystolicTiming, DenseAttentionTileByHand) {
  // 8 queries x 8 keys, d = 4, 4x4 array, 8 softmax lanes, latency 2, divide 3.
  const CsrMask m = CsrMask::full(8, 8, false, 0);
  SystolicConfig p;
  p.rows = p.cols = 4;
  p.softmax_lanes = 8;
  p.softmax_latency_cycles = 2;
  p.divide_latency_cycles = 3;
  p.fold_drain = FoldDrain::after_fold;
  UnitWork w = systolic_attention(m, 4, p, 2);
  EXPECT_EQ(w.stages.at("qk"), 4 * (8 + 4 + 4 - 2));    // 4 folds of K = d = 4
  EXPECT_EQ(w.stages.at("pv"), 2 * (8 + 4 + 8 - 2));    // per row block, 1 fold over 8 keys
  EXPECT_EQ(w.stages.at("softmax"), 64 / 8 + 2);
  EXPECT_EQ(w.stages.at("normalise"), 3 + 8 * 4 / 8);
  EXPECT_EQ(w.cycles, 56 + 36 + 10 + 7);
  // In the skew: each fold K + R + C - 2.
  p.fold_drain = FoldDrain::in_skew;
  w = systolic_attention(m, 4, p, 2);
  EXPECT_EQ(w.stages.at("qk"), 4 * (4 + 4 + 4 - 2));
  EXPECT_EQ(w.stages.at("pv"), 2 * (8 + 4 + 4 - 2));
  EXPECT_EQ(w.cycles, 40 + 28 + 10 + 7);
  EXPECT_EQ(w.macs, 2 * 8 * 8 * 4);
  EXPECT_EQ(w.sram_read_bytes.at("k"), 4 * 4 * 4 * 2);  // 4 folds x 4 keys x d x 2 B
}

TEST(SystolicTiming, EmptyMaskBlocksAreSkipped) {
  CsrMask m;
  m.cols = 8;
  for (int r = 0; r < 8; ++r) m.add_row({r < 4 ? 0 : 1});  // only key block 0 is used
  SystolicConfig p;
  p.rows = p.cols = 4;
  const UnitWork w = systolic_attention(m, 4, p, 2);
  EXPECT_EQ(w.stages.at("qk"), 2 * os_fold_cycles(4, 4, 4));
  EXPECT_EQ(w.stages.at("pv"), 2 * os_fold_cycles(4, 4, 4));  // 4 active keys per row block
  EXPECT_EQ(w.counts.at("folds_computed"), 2);
}
