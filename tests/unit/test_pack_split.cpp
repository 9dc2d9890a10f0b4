#include <gtest/gtest.h>

#include "kernels/pack_split.h"

using namespace attnsim;

TEST(PackSplit, SplitsSegmentsIntoSubRowsOfAtMostPNonzeros) {
  CsrMask m;
  m.cols = 16;
  m.add_row({0, 1, 2, 3, 5, 7});  // segment 0 (W = 8): 6 nonzeros -> 2 sub-rows
  m.add_row({9, 15});             // segment 1 only
  m.add_row({});                  // nothing
  const PackSplitSchedule s = pack_split(m, 8, 4);
  ASSERT_EQ(s.segments.size(), 2u);
  EXPECT_EQ(s.segments[0].segment, 0);
  ASSERT_EQ(s.segments[0].subrows.size(), 2u);
  const SubRow& a = s.segments[0].subrows[0];
  EXPECT_EQ(a.row, 0);
  EXPECT_EQ(a.nnz, 4);
  EXPECT_EQ(a.first_col, 0);
  EXPECT_EQ(a.last_col, 3);
  EXPECT_EQ(a.bubbles(), 0);
  const SubRow& b = s.segments[0].subrows[1];
  EXPECT_EQ(b.nnz, 2);
  EXPECT_EQ(b.idx_begin, 4);
  EXPECT_EQ(b.first_col, 5);
  EXPECT_EQ(b.last_col, 7);
  EXPECT_EQ(b.bubbles(), 1);  // column 6 is a bubble
  const SubRow& c = s.segments[1].subrows[0];
  EXPECT_EQ(c.row, 1);
  EXPECT_EQ(c.first_col, 1);
  EXPECT_EQ(c.last_col, 7);
  EXPECT_EQ(c.bubbles(), 5);
  EXPECT_EQ(s.nnz, 8);
  EXPECT_EQ(s.subrows, 3);
  EXPECT_EQ(s.row_segments, 6);
  EXPECT_EQ(s.skipped_row_segments, 4);  // row 0 seg 1, row 1 seg 0, row 2 both
  EXPECT_DOUBLE_EQ(s.pe_utilisation(), 8.0 / 4 / 3);
}

TEST(PackSplit, EmptyAndFullMasks) {
  CsrMask empty;
  empty.cols = 64;
  for (int r = 0; r < 3; ++r) empty.add_row({});
  const auto e = pack_split(empty, 64, 16);
  EXPECT_TRUE(e.segments.empty());
  EXPECT_EQ(e.pe_utilisation(), 0.0);
  const auto f = pack_split(CsrMask::full(5, 100, false, 0), 64, 16);  // segments of 64 and 36
  ASSERT_EQ(f.segments.size(), 2u);
  EXPECT_EQ(f.segments[0].subrows.size(), 5u * 4);
  EXPECT_EQ(f.segments[1].subrows.size(), 5u * 3);  // 36 = 16 + 16 + 4
  EXPECT_EQ(f.nnz, 500);
  EXPECT_NEAR(f.pe_utilisation(), 500.0 / 16 / 35, 1e-12);
}

TEST(PackSplit, PassTotalsPackArrayRowsPerSegment) {
  CsrMask m;
  m.cols = 16;
  m.add_row({0, 1, 2, 3, 5, 7});  // segment 0 (W = 8): sub-rows ending at columns 3 and 7
  m.add_row({9, 15});             // segment 1: one sub-row ending at column 7
  const PackSplitSchedule s = pack_split(m, 8, 4);
  const PassTotals one = pass_totals(s, 1);  // a pass per sub-row: skew = its last column
  EXPECT_EQ(one.passes, 3);
  EXPECT_EQ(one.skew_sum, 3 + 7 + 7);
  EXPECT_EQ(one.bubbles, 0 + 1 + 5);
  const PassTotals two = pass_totals(s, 2);  // segment 0 in one pass: max(0 + 3, 1 + 7)
  EXPECT_EQ(two.passes, 2);
  EXPECT_EQ(two.skew_sum, 8 + 7);
  EXPECT_EQ(two.bubbles, 6);
}
