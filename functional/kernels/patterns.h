#pragma once
// Structured sparse-attention patterns (DynamiQK; MInference / MMInference;
// Phi-3-small local-stride; FlexAttention-style modality block masks): the
// exact set of (query, key) entries each one keeps, the MInference block
// layout (per 64-row block: 64-wide key blocks plus single key columns), and
// the per-head "mask plan" that composes patterns across modalities (no, Q-,
// K- and 2D-boundary). Functional only: no timing here. docs/dynamiqk.md.
//
// Every pattern is causal (keys j <= i) and every row keeps its own key j = i
// (MInference always keeps the nearest diagonals; it also keeps a row from
// being empty).
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "kernels/tensor.h"

namespace attnsim {

// ---------------------------------------------------------------- segments
// One segment of an interleaved multimodal sequence.
struct Segment {
  std::string kind = "text";  // modality name ("text", "vision", ...)
  int start = 0, length = 0;
  int grid_h = 0, grid_w = 0;  // vision: patch rows x columns (length = grid_h * grid_w)
  bool is_grid() const { return grid_w > 0; }
};

// Which modality and segment every token belongs to.
class SegmentMap {
 public:
  SegmentMap() = default;
  // Segments in order; empty ones are dropped; lengths must add up to seq.
  SegmentMap(std::vector<Segment> segments, int seq);
  static SegmentMap single(int seq, const std::string& kind = "text");

  int seq() const { return seq_; }
  const std::vector<Segment>& segments() const { return segments_; }
  int modalities() const { return static_cast<int>(names_.size()); }
  const std::string& modality_name(int m) const { return names_[m]; }
  int modality_index(const std::string& name) const;  // -1 when absent
  int modality(int token) const { return modality_[token]; }
  int segment_of(int token) const { return segment_[token]; }
  const Segment& segment(int s) const { return segments_[s]; }
  int segment_modality(int s) const { return segment_modality_[s]; }
  // MMInference's last_q per modality: the last min(n, length) tokens of the
  // last segment of modality m, as [begin, end).
  std::pair<int, int> last_rows(int m, int n) const;
  // Whether modality m has a grid (vision) segment.
  bool has_grid(int m) const;
  nlohmann::json to_json() const;

 private:
  int seq_ = 0;
  std::vector<Segment> segments_;
  std::vector<std::string> names_;
  std::vector<int> segment_modality_;
  std::vector<uint8_t> modality_;
  std::vector<int32_t> segment_;
};

// ---------------------------------------------------------------- layout
// MInference's sparse index (convert_vertical_slash_indexes): for each row
// block of `block` queries, block_offset lists the starts of `block`-wide key
// ranges [off, off + block) computed whole (causal-masked), and column_index
// the single key columns outside those ranges. CSR over row blocks.
struct BlockLayout {
  int block = 64, row_blocks = 0;
  std::vector<int32_t> block_ptr{0}, block_offset;
  std::vector<int32_t> column_ptr{0}, column_index;

  int64_t blocks() const { return static_cast<int64_t>(block_offset.size()); }
  int64_t columns() const { return static_cast<int64_t>(column_index.size()); }
  nlohmann::json summary() const;  // counts
  nlohmann::json to_json() const;  // the full index (block_count, block_offset, column_count, column_index)
};

// MInference's conversion of vertical indices (ascending key columns) and
// slash indices (ascending offsets i - j >= 0) into the block layout, for a
// causal sequence of `seq` tokens (the CUDA kernel's two-pointer merge: a
// slash's keys in row block [s, e) are [s - o, e - o); neighbouring slash
// ranges merge, a range grows by whole blocks; verticals inside a range are
// dropped, others become columns).
BlockLayout vertical_slash_layout(int seq, const std::vector<int32_t>& verticals,
                                  const std::vector<int32_t>& slashes, int block);

// ---------------------------------------------------------------- patterns
// One head's pattern. Kinds and their entries (row i, key j <= i):
//   dense          every key
//   a_shape        j < n_init or i - j < n_local                    (StreamingLLM / MInference "A-shape")
//   tri_shape      a_shape, and rows i >= seq - n_last attend densely (MInference/SCBench "Tri-shape")
//   vertical_slash j in verticals or i - j in slashes                 (MInference)
//   block_sparse   key block of j in key_blocks[row block of i]       (MInference block-sparse)
//   grid           a_shape(n_init, n_local), and inside a grid segment
//                  the keys of the same patch column: i - j = k * grid_w (MMInference Grid)
//   local_stride   block (qb, kb): qb - kb < local_blocks or
//                  (kb + head_shift) % vert_stride == 0              (Phi-3-small)
//   modality       rule[m(i)][m(j)]: 0 none, 1 causal, 2 same segment (interleaved-modality mask)
// With `block_granular`, a_shape, tri_shape and vertical_slash keep
// MInference's block layout instead (whole key ranges, a superset).
struct HeadPattern {
  std::string kind = "dense";
  int seq = 0;
  int block = 64;
  bool block_granular = true;
  int n_init = 0, n_local = 1, n_last = 0;
  std::vector<int32_t> verticals, slashes;           // vertical_slash (ascending)
  std::vector<std::vector<int32_t>> key_blocks;      // block_sparse: per row block, ascending
  int local_blocks = 1, vert_stride = 1, head_shift = 0;  // local_stride
  std::vector<uint8_t> modality_rule;                // modality: M x M
  std::shared_ptr<const SegmentMap> segments;        // grid, modality

  // Builds the block layout where the pattern has one; call after setting fields.
  void prepare();
  bool has_layout() const { return layout_ != nullptr; }
  const BlockLayout& layout() const { return *layout_; }
  // Sorted keys of row i (without the forced diagonal).
  void row_keys(int i, std::vector<int32_t>& out) const;
  // Parameters for reports and pattern files (no index lists unless `indices`).
  nlohmann::json to_json(bool indices = false) const;

 private:
  std::shared_ptr<BlockLayout> layout_;
};

// Ranges [a, b) plus single columns -> sorted unique keys in [0, limit).
void merge_ranges_and_columns(std::vector<std::pair<int32_t, int32_t>>& ranges, const int32_t* cols, size_t ncols,
                              int32_t limit, std::vector<int32_t>& out);

// ---------------------------------------------------------------- mask plan
// What a mask unit applies to one head: one pattern shared by all queries
// (boundary "none" or "k") or one per query modality ("q", "2d"), and for
// each query modality the key modalities it skips ("k", "2d"): MMInference's
// inter-modality boundaries.
struct MaskPlan {
  std::string boundary = "none";  // none | q | k | 2d
  std::vector<HeadPattern> by_query;   // 1 (none, k) or one per query modality (q, 2d)
  std::vector<std::vector<char>> skip; // [query modality][key modality], empty when nothing is skipped
  std::shared_ptr<const SegmentMap> segments;

  const HeadPattern& pattern_for(int query_modality) const;
  void row_keys(int i, std::vector<int32_t>& out) const;  // sorted, diagonal included
  CsrMask mask(int row0, int rows) const;
  // Kept entries over all rows (counted, not stored).
  int64_t count_nnz() const;
};

// FlexAttention-style labels of the (block x block) tiles of a mask: EMPTY
// (nothing kept), FULL (every causal entry kept, no masking needed), CAUSAL
// (a diagonal tile keeping exactly its causal triangle), PARTIAL (the rest:
// an element mask is applied). `row0` is the mask's first query row.
struct BlockLabelCounts {
  int64_t empty = 0, full = 0, causal = 0, partial = 0;
  void merge(const BlockLabelCounts& o) {
    empty += o.empty, full += o.full, causal += o.causal, partial += o.partial;
  }
};
BlockLabelCounts label_blocks(const CsrMask& mask, int row0, int block);

}  // namespace attnsim
