#pragma once
// A structured description of one query tile's mask (own model): rows fall
// into groups that keep the same key intervals, clipped causally, plus a
// local band. Long-context heads (128k tokens) have tiles of billions of
// entries; the patterns of kernels/patterns.h (A-shape, tri-shape, MInference's
// block layout, block-sparse, Phi-3-small local-stride) are of this form, so
// what the timing models read from a tile's mask (entries, per key block
// counts, block labels, needed keys, pack-and-split totals) is computed from
// the groups and a few rows near the diagonal and the band edges instead of
// from every entry. Every result equals the same function on the enumerated
// CSR (tests/unit/test_tile_shape.cpp).
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/patterns.h"
#include "kernels/tensor.h"

namespace attnsim {

struct KeyInterval {
  int32_t begin = 0, end = 0;  // keys [begin, end)
};

struct RowGroup {
  int32_t first = 0, end = 0;     // absolute query rows [first, end)
  std::vector<KeyInterval> keys;  // disjoint, ascending, non-adjacent (merged), within [0, cols)
  int32_t band = 1;               // row i also keeps [max(0, i - band + 1), i]; band >= 1 (the diagonal)

  // Row i's kept keys within [lo, hi), as merged ascending intervals.
  void row_intervals(int i, int32_t lo, int32_t hi, std::vector<KeyInterval>& out) const;
};

// Row i (absolute) keeps (keys ∩ [0, i]) ∪ [max(0, i - band + 1), i]: always causal.
struct TileShape {
  int row0 = 0, rows = 0, cols = 0;  // the tile's query rows [row0, row0 + rows), keys [0, cols)
  std::vector<RowGroup> groups;      // ascending, covering [row0, row0 + rows) exactly

  int64_t nnz() const;
  void row_keys(int i, std::vector<int32_t>& out) const;  // absolute row; sorted
  CsrMask enumerate() const;                              // rows x cols, for tests and small tiles
  // As CsrMask::count_blocks: rows relative to the tile [row_begin, row_end),
  // adds kept entries per key block.
  void count_blocks(int row_begin, int row_end, int block, std::vector<int64_t>& counts) const;
  // The group holding absolute row i.
  const RowGroup& group_of(int i) const;
};

// The tile's shape when the plan is structured, else std::nullopt. Structured:
// plan.skip empty, every pattern's seq equal to the mask's columns, the tile
// inside [0, seq), and every pattern used by the tile's rows one of dense,
// none, a_shape / tri_shape (exact or block-granular), vertical_slash with a
// block layout, block_sparse, local_stride. Not structured: grid, modality,
// exact vertical_slash, any skip.
std::optional<TileShape> tile_shape(const MaskPlan& plan, int row0, int rows);

// The shape of a dense causal tile (no mask unit): every key j <= i.
TileShape dense_causal_shape(int row0, int rows, int cols);

// == label_blocks(shape.enumerate(), shape.row0, block).
BlockLabelCounts label_blocks(const TileShape& shape, int block);

// Key blocks touched by any row of the tile, times their width
// (== models/controller/tile_traffic.cpp's needed_keys on the enumerated CSR).
int64_t needed_keys(const TileShape& shape, int block);

}  // namespace attnsim
