#include <gtest/gtest.h>

#include "spatten/spatten_timing.h"

using namespace attnsim;

TEST(SpattenTiming, RowsCostTheirSlowestStagePlusOneFillAndDrain) {
  SpattenDatapathConfig p;
  p.qk_multipliers = 512;
  p.av_multipliers = 512;
  p.softmax_lanes = 8;
  p.pipeline_latency_cycles = 104;
  // Row 0: 128 keys -> QK 128*64/512 = 16, softmax 128/8 = 16, AV 16.
  // Row 1: 100 keys, requantised -> QK 2 * ceil(6400/512) = 26, softmax 13, AV 13; top-k 30 dominates.
  // Row 2: pruned (no keys): free.
  const std::vector<SpattenRow> rows = {{128, 128, false, 0}, {100, 100, true, 30}, {0, 0, false, 0}};
  const UnitWork w = spatten_tile_timing(rows, 64, p);
  EXPECT_EQ(w.stages.at("pipelined_rows"), 16 + 30);
  EXPECT_EQ(w.stages.at("fill_drain"), 104);
  EXPECT_EQ(w.cycles, 150);
  EXPECT_EQ(w.counts.at("rows_active"), 2);
  EXPECT_EQ(w.counts.at("rows_requantised"), 1);
  EXPECT_EQ(w.counts.at("qk_cycles"), 16 + 26);
  EXPECT_EQ(w.macs, 128 * 64 * 2 + 100 * 64 * 2 + 100 * 64);
}

TEST(SpattenTiming, AFullyPrunedTileIsFree) {
  const UnitWork w = spatten_tile_timing({{0, 0, false, 0}, {0, 0, false, 0}}, 64, SpattenDatapathConfig{});
  EXPECT_EQ(w.cycles, 0);
}
