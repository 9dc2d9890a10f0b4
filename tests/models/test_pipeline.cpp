#include <gtest/gtest.h>

#include "controller/pipeline.h"

using namespace attnsim;

TEST(Pipeline, SingleBufferSerialisesLoadsBehindCompute) {
  TilePipeline p(false);
  const TileTimes a = p.add(10, 5, 20, 4);  // load 0-10, mask 10-15, compute 15-35
  EXPECT_EQ(a.compute_end, 35);
  const TileTimes b = p.add(10, 5, 20, 4);  // load waits for compute 0: 35-45; store 0 then 45-49
  EXPECT_EQ(b.load_start, 35);
  EXPECT_EQ(b.mask_start, 45);
  EXPECT_EQ(b.compute_start, 50);
  EXPECT_EQ(b.compute_end, 70);
  EXPECT_EQ(p.finish(), 74);
  EXPECT_EQ(p.dram_busy(), 28);
}

TEST(Pipeline, DoubleBufferOverlapsLoadsWithCompute) {
  TilePipeline p(true);
  p.add(10, 5, 20, 4);                      // compute 15-35
  const TileTimes b = p.add(10, 5, 20, 4);  // prefetch 10-20, mask 20-25, compute 35-55
  EXPECT_EQ(b.load_start, 10);
  EXPECT_EQ(b.compute_start, 35);
  const TileTimes c = p.add(10, 5, 20, 4);  // store 0 at 35-39 after load 1; load 2 waits for slot (compute 0 end 35)
  EXPECT_EQ(c.load_start, 39);
  EXPECT_EQ(c.compute_start, 55);
  EXPECT_EQ(c.compute_end, 75);
  EXPECT_EQ(p.finish(), 79);
}

TEST(Pipeline, MemoryBoundTilesAreLimitedByDram) {
  TilePipeline p(true);
  for (int i = 0; i < 10; ++i) p.add(100, 1, 10, 50);
  // Every tile moves 150 cycles of DRAM traffic; compute hides behind it.
  const Cycles end = p.finish();
  EXPECT_EQ(p.dram_busy(), 1500);
  EXPECT_GE(end, 1500);
  EXPECT_LE(end, 1500 + 1 + 10);
}
