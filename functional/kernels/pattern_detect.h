#pragma once
// Online sparse-pattern detection for one attention head, as MInference and
// MMInference do it (REFERENCE.md "DynamiQK and MInference/MMInference"):
//   * estimation: last_q = min(64, L) queries x all keys (causal), softmax;
//   * vertical-slash: column sums (first `init_columns` forced in) and
//     diagonal sums (nearest `local_diagonals` forced in), top-v and top-s;
//   * block-sparse: Q and K mean-pooled over blocks, top-k key blocks per row block;
//   * A-shape, Tri-shape, Grid (stride = the vision segment's grid width);
//   * choice: the candidate keeping the most attention mass, averaged over the
//     evaluation rows, in a fixed order, a later candidate replacing the
//     current one only when it keeps more than `select_delta` more mass
//     (MMInference pattern_search_attn_delta, minimal_delta = 1e-2); every
//     candidate is sized to the same compute budget;
//   * multimodal: per query modality estimation rows (the last last_q tokens
//     of its last segment, as MMInference's mix-modality code), and the
//     boundary choice none / Q / K / 2D (docs/dynamiqk.md).
// Functional only; models/dynamiqk turns DetectorActivity into cycles.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/patterns.h"
#include "kernels/tensor.h"

namespace attnsim {

struct DetectorParams {
  // Tried in this order (simplest first); "dense" is the fallback, not a candidate.
  std::vector<std::string> candidates{"a_shape", "tri_shape", "grid", "block_sparse", "vertical_slash"};
  double budget = 0.1;          // candidates are sized to keep this fraction of the causal entries
  double budget_slack = 0.1;    // a sized candidate may exceed the budget by this fraction before it is shrunk
  double min_mass = 0.5;        // a head whose best candidate keeps less stays dense (own rule; 0 disables)
  double select_delta = 0.01;   // MMInference's minimal_delta
  double boundary_delta = 0.03; // Q-boundary only with this much more mass than one shared pattern (own choice)
  double skip_mass = 0.01;      // a (query, key) modality region below this share of attention is skipped
  double vertical_share = 0.3;  // share of the vertical-slash budget spent on verticals
  bool block_granular = true;   // vertical_slash: MInference block layout (else exact entries)
  // a_shape / tri_shape: element-exact by default, as MInference's streaming
  // kernel masks them (0 <= i - j < n_local or j < n_init); block: whole
  // 64-key blocks, a hardware option (JSON a_shape_granularity).
  bool a_shape_block_granular = false;
  bool block_sparse_force_diagonal = false;  // block_sparse: the diagonal key block always kept (else scored)
  int block = 64;               // row/key block of layouts and block-sparse pooling
  int last_q = 64;              // estimation rows (MInference: 64)
  int eval_groups = 1;          // 1: compare candidates on the estimation rows; G: plus G-1 groups spread over the sequence
  int init_columns = 30;        // MInference: vertical[..., :30] = inf
  int local_diagonals = 100;    // MInference: slash[..., -100:] = inf
  int min_vertical = 30, min_slash = 50;  // MInference: v >= 30, s >= 50
  int n_init = 64;              // A-shape / Tri-shape / Grid initial (sink) keys, at most a quarter of the budget
  int n_last = 64;              // Tri-shape dense last rows
  int block_topk = 0;           // block-sparse key blocks per row block; 0: from the budget
  bool report_indices = false;  // head_info carries the full index lists
  bool keep_estimates = false;  // HeadDetection::estimates gets the score vectors (for dumps)
};

// What the detector did for one head, in sizes the timing model turns into
// cycles (models/dynamiqk/dynamiqk_timing.h).
struct DetectorActivity {
  std::vector<std::pair<int64_t, int64_t>> estimate_gemms;  // (query rows, keys) per estimation QKᵀ
  int64_t probabilities = 0;      // softmax outputs
  int64_t sum_updates = 0;        // column + diagonal accumulator updates
  int64_t pooled_tokens = 0;      // Q and K rows mean-pooled
  int64_t pooled_blocks = 0;      // nb of the nb x nb pooled score GEMM (0: none)
  std::vector<std::pair<int64_t, int64_t>> topks;  // (n, k) per top-k selection
  int64_t candidate_entries = 0;  // probabilities streamed to compare candidates
  int64_t index_items = 0;        // indices merged while building layouts
  int64_t row_blocks = 0;
  int candidates_evaluated = 0;
  int64_t estimate_rows() const;
};

struct HeadDetection {
  MaskPlan plan;
  nlohmann::json info;  // head_info: pattern, parameters, density, mass_kept, candidates
  double mass = 0;      // attention mass kept, averaged over the evaluation rows
  DetectorActivity activity;
  // With keep_estimates: {"sets": [{"first_row", "keys", "vertical", "slash"}] per estimation row set
  // (column and diagonal sums; forced entries are +inf, JSON null), "pooled": nb x nb block scores}.
  nlohmann::json estimates;
};

// Detects the pattern of one head. `fixed` (optional): a choice from a
// pattern file (the "pattern"/"boundary"/sizes of a head_info); then only the
// indices are estimated online, as MInference does with its offline config.
HeadDetection detect_head(const MatF& q, const MatF& k, double scale, const std::shared_ptr<const SegmentMap>& segments,
                          const DetectorParams& p, const nlohmann::json* fixed = nullptr);

// Causal softmax rows of the estimation: probs(r, j) for row rows[r], keys j <= rows[r].
MatF estimate_probs(const MatF& q, const MatF& k, double scale, const std::vector<int>& rows);

// Indices of the k largest scores (ties: lower index first), ascending.
std::vector<int32_t> top_k_indices(const std::vector<float>& scores, int k);

// Vertical and slash indices from estimation probabilities (MInference):
// column sums (columns < init_columns forced), diagonal sums over offsets
// i - j >= 0 (offsets < local_diagonals forced), top-v and top-s.
struct VerticalSlash {
  std::vector<int32_t> verticals, slashes;  // ascending
};
struct VerticalSlashScores {
  std::vector<float> vertical, slash;  // per key column; per offset (forced ones +inf)
};
VerticalSlashScores vertical_slash_scores(const MatF& probs, const std::vector<int>& rows, int init_columns,
                                          int local_diagonals);
VerticalSlash pick_vertical_slash(const VerticalSlashScores& scores, int v, int s);
VerticalSlash estimate_vertical_slash(const MatF& probs, const std::vector<int>& rows, int v, int s,
                                      int init_columns, int local_diagonals);

// Block-sparse estimation (MInference): mean-pooled Q and K blocks, scores
// pooled_q · pooled_k * scale, top-k causal key blocks per row block. The
// diagonal block competes like the others (MInference's
// block_sparse_flash_attention.py) or, with force_diagonal (attnsim's first
// rule, JSON block_sparse_diagonal = forced), is always kept.
std::vector<std::vector<int32_t>> estimate_block_sparse(const MatF& q, const MatF& k, double scale, int block,
                                                        int topk, bool force_diagonal = false);
MatF pooled_block_scores(const MatF& q, const MatF& k, double scale, int block);  // nb x nb
std::vector<std::vector<int32_t>> pick_block_sparse(const MatF& pooled, int topk, bool force_diagonal = false);

// Kept / allowed (causal) entries of a plan over up to `max_rows` evenly spaced rows (all rows when fewer).
double plan_density(const MaskPlan& plan, int max_rows = 256);

}  // namespace attnsim
