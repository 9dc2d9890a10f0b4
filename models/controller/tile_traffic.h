#pragma once
// DRAM traffic of one query tile (own model), as a pure function of the
// tile's shape, its mask and the buffers, apart from the controller that
// issues it (tests/models/test_tile_traffic.cpp):
// - the Q rows the tile still computes (rows a pruning mask unit removed are
//   neither fetched nor written back);
// - K and V: once per head, on its first tile, when both fit on chip;
//   otherwise on every tile the key blocks its mask touches, in whole blocks
//   of `key_block` keys, plus the keys the mask unit read itself (Sanger's
//   predictor: all of K every tile; the pattern detector: its estimation keys
//   on a head's first tile); a datapath fetching fewer bits or V rows scales
//   K and V (SpAtten's progressive quantisation, local V pruning);
// - the output rows, and the score and output buffers' spills, written and
//   read back.
#include <cstdint>

#include "kernels/tensor.h"
#include "sram/sram_buffer.h"

namespace attnsim {

// Keys the PE array needs from a tile's mask, in whole blocks of `block` keys.
int64_t needed_keys(const CsrMask& mask, int block);

struct TileTrafficInput {
  int64_t rows = 0;                // query rows of the tile
  int64_t active_rows = 0;         // of them, rows still computed
  int64_t head_dim = 0, element_bytes = 0, seq_len = 0;
  bool kv_resident = false;        // K and V of a head fit on chip
  bool first_tile = false;         // the head's first tile
  int64_t needed_keys = 0;         // needed_keys(mask, key_block)
  int64_t mask_unit_keys = 0;      // keys of K the mask unit read itself
  double k_fetch_scale = 1.0, v_fetch_scale = 1.0;
  int64_t score_buffer_bytes = 0;  // what the tile keeps in the score buffer
};

struct TileTraffic {
  int64_t q_bytes = 0, k_bytes = 0, v_bytes = 0;
  int64_t score_spill = 0, output_spill = 0;
  int64_t load_bytes = 0, store_bytes = 0;  // the tile's two DRAM bursts
  int64_t dense_bytes = 0;  // the same tile with nothing skipped: every row, all keys, full width
};

TileTraffic tile_traffic(const TileTrafficInput& in, const SramBuffer& score, const SramBuffer& output);

}  // namespace attnsim
