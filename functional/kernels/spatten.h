#pragma once
// SpAtten's algorithms (HPCA'21 §III; public code mit-han-lab/spatten):
// cascade token and head pruning across layers, local V pruning, and
// progressive quantisation. Kernel-free; the units in models/spatten/ time them.
#include <functional>
#include <vector>

#include "kernels/number_format.h"
#include "kernels/attention.h"
#include "kernels/tensor.h"
#include "kernels/topk.h"

namespace attnsim {

// Fraction kept at each layer: an explicit list, or 1.0 for the first
// `start_fraction` of the layers, then falling linearly to `final_keep` at
// the last layer (SpAtten: no token pruning in the first 15 %, no head
// pruning in the first 30 %).
struct KeepSchedule {
  double start_fraction = 0.15;
  double final_keep = 1.0;
  std::vector<double> explicit_keep;  // per layer; overrides the ramp when non-empty
  double keep(int layer, int layers) const;
};

// Runs a top-k selection (values, k, parallelism); topk_quickselect by
// default, the clocked engine in "fidelity": "cycle" runs.
using TopKFunction = std::function<TopK(const std::vector<double>&, int, int)>;

// The pruning state of a whole run: which tokens and heads are alive, and
// the importance scores that decide it. Token importance (per batch
// element) accumulates Σ over heads and queries of the attention
// probabilities a key receives; head importance accumulates Σ |output| of the
// head. At each layer boundary the top-k survivors are kept; the pruned stay
// pruned.
class CascadePruner {
 public:
  CascadePruner(int seq, int batch, int heads, int layers, KeepSchedule tokens, KeepSchedule head_schedule,
                int topk_parallelism, TopKPivot pivot = TopKPivot::random);

  // Applies the pruning decisions for `layer` (once per layer; later calls
  // are no-ops). Returns the top-k engine's cycles spent.
  int64_t begin_layer(int layer);
  void set_topk_engine(TopKFunction engine) { topk_ = std::move(engine); }
  bool head_alive(int group) const { return head_alive_[group] != 0; }
  const std::vector<char>& tokens_alive(int batch) const { return token_alive_[batch]; }
  int tokens_kept(int batch) const;
  int heads_kept(int batch) const;
  // The importance accumulated so far (what the last begin_layer decided on).
  const std::vector<double>& token_importance(int batch) const { return token_score_[batch]; }
  double head_importance(int group) const { return head_score_[group]; }

  // The mask of query rows [row0, row0 + rows) of head `group`: alive
  // queries attend to alive keys (causal: j <= i); pruned rows are empty and
  // flagged inactive.
  CsrMask tile_mask(int group, int row0, int rows, bool causal, std::vector<char>& row_active) const;

  // Accumulates importance from a computed tile (its mask and probabilities).
  void observe(int group, const CsrMask& mask, const MaskedAttention& result);

 private:
  int seq_, batch_, heads_, layers_, parallelism_;
  TopKFunction topk_;
  KeepSchedule tokens_, heads_schedule_;
  int current_layer_ = -1;
  std::vector<std::vector<char>> token_alive_;       // [batch][seq]
  std::vector<std::vector<double>> token_score_;     // [batch][seq]
  std::vector<char> head_alive_;                     // [batch * heads]
  std::vector<double> head_score_;                   // [batch * heads]
};

// SpAtten's datapath on a tile: progressive quantisation and local V pruning
// on top of masked attention.
struct SpattenNumerics {
  AttentionNumerics base;
  int msb_bits = 8;              // bits fetched first, of number_format's width
  double requant_threshold = 0.1;  // τ: a row whose max probability is below τ is recomputed with the LSBs
  double v_keep = 1.0;           // local V pruning: fraction of a row's probabilities whose V rows are used
  int topk_parallelism = 16;
  TopKPivot topk_pivot = TopKPivot::random;
  // The head's operands with only the MSBs of K (msb_operands()); required
  // when the format drops bits.
  const HeadOperands* msb_operands = nullptr;
};

// K with its low (width - msb_bits) bits truncated, V unchanged.
HeadOperands msb_operands(const HeadOperands& kv, const NumberFormat& fmt, int msb_bits);

struct SpattenTile {
  MaskedAttention attention;
  int rows_requantised = 0;
  std::vector<char> row_requantised;  // per row: recomputed with the LSBs
  std::vector<float> row_top_prob;    // per row: largest probability of the first (MSB-only) pass
  int64_t v_rows_used = 0;       // Σ over rows of the V rows multiplied
  int64_t v_rows_fetched = 0;    // distinct V rows the tile needs
  int64_t topk_v_cycles = 0;     // local V pruning on the top-k engine
  std::vector<int64_t> row_topk_cycles;
};

// Inactive rows (row_active[i] == 0) produce zeros and cost nothing.
SpattenTile spatten_attention(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask,
                              const std::vector<char>& row_active, const SpattenNumerics& num);

}  // namespace attnsim
