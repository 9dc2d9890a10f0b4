// The DRAM traffic of one query tile (models/controller/tile_traffic.h, own
// model), case by case, without a simulation.
#include <gtest/gtest.h>

#include "controller/tile_traffic.h"

using namespace attnsim;

namespace {

TileTrafficInput tile(int64_t rows, int64_t seq, int64_t d, int64_t bytes) {
  TileTrafficInput in;
  in.rows = in.active_rows = rows;
  in.seq_len = seq;
  in.head_dim = d;
  in.element_bytes = bytes;
  return in;
}

const SramBuffer kLarge(1 << 30, true);

}  // namespace

TEST(TileTraffic, NeededKeysRoundsToWholeBlocks) {
  CsrMask m;
  m.cols = 100;
  m.add_row({0, 5});    // block 0
  m.add_row({70, 99});  // blocks 2 and 3 of 32 keys (the last one holds 4)
  EXPECT_EQ(needed_keys(m, 32), 32 + 32 + 4);
  EXPECT_EQ(needed_keys(m, 64), 64 + 36);
  CsrMask empty;
  empty.cols = 100;
  empty.add_row({});
  EXPECT_EQ(needed_keys(empty, 32), 0);
}

TEST(TileTraffic, ResidentKAndVLoadOnceOnTheFirstTile) {
  TileTrafficInput in = tile(16, 128, 8, 2);
  in.kv_resident = true;
  in.first_tile = true;
  TileTraffic t = tile_traffic(in, kLarge, kLarge);
  EXPECT_EQ(t.q_bytes, 16 * 8 * 2);
  EXPECT_EQ(t.k_bytes, 128 * 8 * 2);
  EXPECT_EQ(t.v_bytes, 128 * 8 * 2);
  EXPECT_EQ(t.load_bytes, t.q_bytes + t.k_bytes + t.v_bytes);
  EXPECT_EQ(t.store_bytes, t.q_bytes);
  EXPECT_EQ(t.dense_bytes, 2 * 16 * 8 * 2 + 2 * 128 * 8 * 2);
  in.first_tile = false;
  t = tile_traffic(in, kLarge, kLarge);
  EXPECT_EQ(t.k_bytes + t.v_bytes, 0);
  EXPECT_EQ(t.dense_bytes, 2 * 16 * 8 * 2);
}

TEST(TileTraffic, StreamedKeysFollowTheMaskAndTheMaskUnitsOwnReads) {
  TileTrafficInput in = tile(16, 128, 8, 2);
  in.needed_keys = 64;
  in.mask_unit_keys = 128;  // Sanger's predictor reads all of K every tile
  const TileTraffic t = tile_traffic(in, kLarge, kLarge);
  EXPECT_EQ(t.k_bytes, (64 + 128) * 8 * 2);
  EXPECT_EQ(t.v_bytes, 64 * 8 * 2);
  EXPECT_EQ(t.dense_bytes, 2 * 16 * 8 * 2 + 2 * 128 * 8 * 2);  // all keys, every tile
}

TEST(TileTraffic, FetchScalesPrunedRowsAndSpills) {
  TileTrafficInput in = tile(16, 128, 8, 2);
  in.active_rows = 4;  // a pruning mask unit removed 12 rows
  in.needed_keys = 100;
  in.k_fetch_scale = 0.5;   // MSBs only
  in.v_fetch_scale = 0.25;  // local V pruning
  in.score_buffer_bytes = 1000;
  const SramBuffer score(1024, true), output(64, false);  // slots: 512 and 64 bytes
  const TileTraffic t = tile_traffic(in, score, output);
  EXPECT_EQ(t.q_bytes, 4 * 8 * 2);
  EXPECT_EQ(t.k_bytes, 800);  // 1600 x 0.5
  EXPECT_EQ(t.v_bytes, 400);
  EXPECT_EQ(t.score_spill, 1000 - 512);
  EXPECT_EQ(t.output_spill, 0);  // 64 bytes of output fit
  EXPECT_EQ(t.store_bytes, t.q_bytes + 2 * (488 + 0));
  EXPECT_EQ(t.dense_bytes, 2 * 16 * 8 * 2 + 2 * 128 * 8 * 2);  // every row, full width
}
