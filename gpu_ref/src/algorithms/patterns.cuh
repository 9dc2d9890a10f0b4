#pragma once
// Structured sparse-attention patterns on the GPU, as the simulator defines
// them (src/kernels/patterns.{h,cpp}, docs/dynamiqk.md): the keys each row
// keeps, MInference's block layout (per row block, whole key blocks plus single
// columns) built by a kernel (one thread per row block, as MInference's
// convert_vertical_slash_indexes), and kernels that evaluate a head's mask
// plan row by row (key counts, kept attention mass, CSR mask).
//
// Every pattern is causal and every row keeps its own key (the plan appends
// the diagonal). Rows of one head; a plan has one pattern per query modality
// (or one shared) and optional skipped (query, key) modality pairs.
#include <cstdint>
#include <string>
#include <vector>

#include "common/device.h"

namespace gpu_ref {

enum PatternKind : int { kDense = 0, kAShape, kTriShape, kGrid, kBlockSparse, kVerticalSlash };
const char* pattern_name(PatternKind k);

constexpr int kMaxModalities = 8;

// ---- host side -------------------------------------------------------------------

// Segments of an interleaved multimodal sequence (params.segments of the dump).
struct Segments {
  int seq = 0;
  std::vector<std::string> names;  // modality names, in order of first appearance
  struct Segment {
    int start = 0, length = 0, grid_w = 0, modality = 0;
  };
  std::vector<Segment> segments;
  std::vector<int> token_modality, token_segment;

  int modalities() const { return static_cast<int>(names.size()); }
  std::pair<int, int> last_rows(int m, int n) const;  // the last min(n, length) tokens of m's last segment
  bool has_grid(int m) const;
  int max_grid_width() const;
};

// One head's pattern (host description; indices ascending).
struct PatternSpec {
  PatternKind kind = kDense;
  int seq = 0, block = 64;
  bool granular = true;  // a_shape, tri_shape, vertical_slash: MInference block layout
  int n_init = 0, n_local = 1, n_last = 0;
  std::vector<int> verticals, slashes;         // vertical_slash
  std::vector<std::vector<int>> key_blocks;    // block_sparse: per row block
  bool has_layout() const {
    return kind == kBlockSparse || (granular && (kind == kAShape || kind == kTriShape || kind == kVerticalSlash));
  }
};

// ---- device views ------------------------------------------------------------------

struct SegmentsView {
  int modalities = 1;
  const int* seg_start = nullptr;
  const int* seg_grid_w = nullptr;
  const int* token_modality = nullptr;
  const int* token_segment = nullptr;
};

struct PatternView {
  int kind = kDense, seq = 0, block = 64, n_init = 0, n_local = 1, n_last = 0;
  const int* verticals = nullptr;  // exact vertical_slash
  const int* slashes = nullptr;
  int nv = 0, ns = 0;
  int has_layout = 0;  // block layout: CSR over row blocks
  const int* block_ptr = nullptr;
  const int* block_offset = nullptr;
  const int* column_ptr = nullptr;
  const int* column_index = nullptr;
};

struct PlanView {
  int patterns = 1;  // 1: shared by every query; else one per query modality
  PatternView by_query[kMaxModalities];
  const int8_t* skip = nullptr;  // [modalities x modalities] or null
  SegmentsView segs;
};

// A pattern's device data: its index lists and its block layout (built on the GPU).
class DevicePattern {
 public:
  DevicePattern() = default;
  DevicePattern(const DevicePattern&) = delete;
  DevicePattern& operator=(const DevicePattern&) = delete;
  DevicePattern(DevicePattern&&) = default;

  // Uploads the spec's lists and builds the layout where the kind has one.
  void build(const PatternSpec& spec, cudaStream_t stream);
  PatternView view() const { return view_; }
  const PatternSpec& spec() const { return spec_; }
  // The layout downloaded (MInference's block_count / block_offset / column_count / column_index).
  void layout(std::vector<int>& block_ptr, std::vector<int>& block_offset, std::vector<int>& column_ptr,
              std::vector<int>& column_index, cudaStream_t stream) const;
  int row_blocks() const { return (spec_.seq + spec_.block - 1) / spec_.block; }

 private:
  PatternSpec spec_;
  PatternView view_;
  DeviceBuffer<int> verticals_, slashes_, key_block_ptr_, key_blocks_;
  DeviceBuffer<int> block_count_, column_count_, block_ptr_, block_offset_, column_ptr_, column_index_;
};

// Segments on the device.
class DeviceSegments {
 public:
  void upload(const Segments& s, cudaStream_t stream);
  SegmentsView view() const { return view_; }

 private:
  SegmentsView view_;
  DeviceBuffer<int> seg_start_, seg_grid_w_, token_modality_, token_segment_;
};

// ---- plan evaluation (one head) ------------------------------------------------------

// counts[r] = kept keys of row rows[r] (diagonal included).
void launch_row_key_counts(const PlanView& plan, const int* rows, int n, int* counts, cudaStream_t stream);
// mass[r] = Σ probs[prob_row[r] * ld + j] over the kept keys j of row rows[r] (double, ascending j).
void launch_row_masses(const PlanView& plan, const int* rows, const int* prob_row, int n, const float* probs,
                       int64_t ld, double* mass, cudaStream_t stream);
// CSR of rows 0..seq-1: counts (pass 1), then the kept keys at rowptr (pass 2):
// local columns j and global columns col_base + j.
void launch_plan_counts(const PlanView& plan, int seq, int* counts, cudaStream_t stream);
void launch_plan_fill(const PlanView& plan, int seq, const int* rowptr, int col_base, int* local_cols,
                      int* global_cols, cudaStream_t stream);

}  // namespace gpu_ref
