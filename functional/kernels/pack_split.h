#pragma once
// Sanger's pack-and-split encoder (MICRO'21 §4.2; hardware pack.scala, load
// balance study in the public code): cut each mask row into segments of
// `segment_width` key columns, skip all-zero segments, split each remaining
// segment into ceil(nnz / pes_per_row) sub-rows of at most pes_per_row
// nonzeros each. The PE array then runs one key segment (tile) at a time.
//
// From a TileShape (kernels/tile_shape.h) the schedule is run-length coded
// (own model): consecutive rows with identical sub-rows in a segment are one
// run, so a long-context tile costs its touched segments and the rows near
// the diagonal and band edges, not its entries.
#include <cstdint>
#include <vector>

#include "kernels/tensor.h"

namespace attnsim {

struct SubRow {
  int32_t row = 0;        // query row within the mask
  int32_t idx_begin = 0;  // position of its first nonzero in mask.indices
  int32_t nnz = 0;
  int32_t first_col = 0;  // column offsets within the segment
  int32_t last_col = 0;
  // Idle PE-cycles between consecutive nonzeros (Sanger's bubbles).
  int32_t bubbles() const { return last_col - first_col + 1 - nnz; }
};

struct SegmentWork {
  int segment = 0;  // key tile index: columns [segment*W, (segment+1)*W)
  std::vector<SubRow> subrows;
};

// One row's sub-rows in a segment, for `repeat` consecutive rows with
// identical sub-rows (SubRow::row = the run's first row relative to the
// tile, idx_begin = -1).
struct SubRowRun {
  std::vector<SubRow> subrows;
  int64_t repeat = 1;
};

struct CompactSegment {
  int segment = 0;
  std::vector<SubRowRun> runs;  // in row order
};

struct TileShape;

// A schedule has either explicit `segments` (from a CSR mask) or `compact`
// runs (from a TileShape); the totals are filled in both.
struct PackSplitSchedule {
  int segment_width = 64, pes_per_row = 16;
  std::vector<SegmentWork> segments;     // only segments with work, ascending
  std::vector<CompactSegment> compact;   // likewise, from a shape
  int64_t nnz = 0;
  int64_t subrows = 0;
  int64_t row_segments = 0;          // (row, segment) pairs in the tile
  int64_t skipped_row_segments = 0;  // of which all-zero
  // Σ(nnz / pes_per_row) / sub-rows: the paper's load-balance utilisation.
  double pe_utilisation() const;
};

PackSplitSchedule pack_split(const CsrMask& mask, int segment_width, int pes_per_row);
PackSplitSchedule pack_split(const TileShape& shape, int segment_width, int pes_per_row);

// What the analytical score-stationary timing reads: each segment's sub-rows
// (schedule order) packed `array_rows` at a time into passes; per pass its
// wavefront skew max_r (r + last_col_r) over its sub-rows r = 0..count-1.
struct PassTotals {
  int64_t passes = 0, skew_sum = 0, bubbles = 0;  // bubbles = Σ SubRow::bubbles()
};
// Explicit or compact, the same numbers; runs are not expanded.
PassTotals pass_totals(const PackSplitSchedule& s, int array_rows);

}  // namespace attnsim
