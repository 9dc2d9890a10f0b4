#include "kernels/spatten.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace attnsim {

double KeepSchedule::keep(int layer, int layers) const {
  if (!explicit_keep.empty()) return explicit_keep[std::min<size_t>(layer, explicit_keep.size() - 1)];
  const int start = static_cast<int>(std::ceil(start_fraction * layers));
  if (layer < start || layers - 1 <= start) return layer < start ? 1.0 : final_keep;
  return 1.0 + (final_keep - 1.0) * (layer - start + 1) / (layers - start);
}

CascadePruner::CascadePruner(int seq, int batch, int heads, int layers, KeepSchedule tokens,
                             KeepSchedule head_schedule, int topk_parallelism, TopKPivot pivot)
    : seq_(seq), batch_(batch), heads_(heads), layers_(layers), parallelism_(topk_parallelism),
      topk_([pivot](const std::vector<double>& v, int k, int p) { return topk_quickselect(v, k, p, pivot); }),
      tokens_(std::move(tokens)), heads_schedule_(std::move(head_schedule)),
      token_alive_(batch, std::vector<char>(seq, 1)), token_score_(batch, std::vector<double>(seq, 0.0)),
      head_alive_(batch * heads, 1), head_score_(batch * heads, 0.0) {}

int CascadePruner::tokens_kept(int b) const {
  return static_cast<int>(std::count(token_alive_[b].begin(), token_alive_[b].end(), 1));
}

int CascadePruner::heads_kept(int b) const {
  return static_cast<int>(std::count(head_alive_.begin() + b * heads_, head_alive_.begin() + (b + 1) * heads_, 1));
}

namespace {
// Keeps the top `k` of the alive entries by score (pruned ones stay pruned).
int64_t prune(std::vector<char>& alive, const std::vector<double>& score, int k, int parallelism,
              const TopKFunction& topk) {
  std::vector<int> ids;
  std::vector<double> values;
  for (size_t i = 0; i < alive.size(); ++i)
    if (alive[i]) ids.push_back(static_cast<int>(i)), values.push_back(score[i]);
  if (k >= static_cast<int>(ids.size())) return 0;  // nothing to prune: the engine is not started
  const TopK t = topk(values, k, parallelism);
  for (int i : ids) alive[i] = 0;
  for (int x : t.indices) alive[ids[x]] = 1;
  return t.cycles;
}
}  // namespace

int64_t CascadePruner::begin_layer(int layer) {
  if (layer <= current_layer_) return 0;
  current_layer_ = layer;
  int64_t cycles = 0;
  const int keep_tokens = std::max(1, static_cast<int>(std::floor(seq_ * tokens_.keep(layer, layers_))));
  const int keep_heads = std::max(1, static_cast<int>(std::floor(heads_ * heads_schedule_.keep(layer, layers_) + 1e-9)));
  for (int b = 0; b < batch_; ++b) {
    cycles += prune(token_alive_[b], token_score_[b], keep_tokens, parallelism_, topk_);
    std::vector<char> alive(head_alive_.begin() + b * heads_, head_alive_.begin() + (b + 1) * heads_);
    const std::vector<double> score(head_score_.begin() + b * heads_, head_score_.begin() + (b + 1) * heads_);
    cycles += prune(alive, score, keep_heads, parallelism_, topk_);
    std::copy(alive.begin(), alive.end(), head_alive_.begin() + b * heads_);
  }
  return cycles;
}

CsrMask CascadePruner::tile_mask(int group, int row0, int rows, bool causal, std::vector<char>& row_active) const {
  const std::vector<char>& alive = token_alive_[group / heads_];
  CsrMask m;
  m.cols = seq_;
  row_active.assign(rows, 0);
  std::vector<int32_t> cols;
  for (int i = 0; i < rows; ++i) {
    cols.clear();
    const int q = row0 + i;
    if (head_alive_[group] && alive[q]) {
      row_active[i] = 1;
      const int n = causal ? q + 1 : seq_;
      for (int j = 0; j < n; ++j)
        if (alive[j]) cols.push_back(j);
    }
    m.add_row(cols);
  }
  return m;
}

void CascadePruner::observe(int group, const CsrMask& mask, const MaskedAttention& result) {
  std::vector<double>& score = token_score_[group / heads_];
  for (int i = 0; i < mask.rows; ++i)
    for (int t = mask.indptr[i]; t < mask.indptr[i + 1]; ++t) score[mask.indices[t]] += result.probs[t];
  head_score_[group] += result.output.cwiseAbs().cast<double>().sum();
}

HeadOperands msb_operands(const HeadOperands& kv, const NumberFormat& fmt, int msb_bits) {
  HeadOperands msb = kv;
  const int dropped = fmt.is_fixed() ? std::max(0, fmt.width - msb_bits) : 0;
  if (dropped > 0) {
    const double step = fmt.lsb() * std::ldexp(1.0, dropped);
    for (Eigen::Index i = 0; i < msb.k.size(); ++i) msb.k.data()[i] = std::floor(msb.k.data()[i] / step) * step;
    encode_operands(msb, fmt);
  }
  return msb;
}

SpattenTile spatten_attention(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask,
                              const std::vector<char>& row_active, const SpattenNumerics& num) {
  const NumberFormat& fmt = num.base.data;
  // MSB-only keys: the low (width - msb_bits) bits of each fixed-point code
  // are not fetched yet (truncation of the two's-complement code).
  const int dropped = fmt.is_fixed() ? std::max(0, fmt.width - num.msb_bits) : 0;
  SpattenTile out;
  out.attention = masked_attention(q_tile, dropped > 0 && num.msb_operands ? *num.msb_operands : kv, mask, num.base);
  out.row_topk_cycles.assign(mask.rows, 0);
  out.row_requantised.assign(mask.rows, 0);
  out.row_top_prob.assign(mask.rows, 0.f);
  std::vector<int> redo;
  for (int i = 0; i < mask.rows; ++i) {
    if (!row_active.empty() && !row_active[i]) continue;
    float top = 0;
    for (int t = mask.indptr[i]; t < mask.indptr[i + 1]; ++t) top = std::max(top, out.attention.probs[t]);
    out.row_top_prob[i] = top;
    if (dropped > 0 && mask.row_nnz(i) > 0 && top < num.requant_threshold) redo.push_back(i);
  }
  if (!redo.empty()) {
    // Recompute those rows with the full-precision keys.
    CsrMask sub;
    sub.cols = mask.cols;
    MatF q_sub(static_cast<Eigen::Index>(redo.size()), q_tile.cols());
    for (size_t r = 0; r < redo.size(); ++r) {
      const int i = redo[r];
      sub.add_row(std::vector<int32_t>(mask.indices.begin() + mask.indptr[i], mask.indices.begin() + mask.indptr[i + 1]));
      q_sub.row(static_cast<Eigen::Index>(r)) = q_tile.row(i);
    }
    const MaskedAttention full = masked_attention(q_sub, kv, sub, num.base);
    for (size_t r = 0; r < redo.size(); ++r) {
      const int i = redo[r];
      std::copy(full.scores.begin() + sub.indptr[r], full.scores.begin() + sub.indptr[r + 1],
                out.attention.scores.begin() + mask.indptr[i]);
      std::copy(full.probs.begin() + sub.indptr[r], full.probs.begin() + sub.indptr[r + 1],
                out.attention.probs.begin() + mask.indptr[i]);
      out.attention.output.row(i) = full.output.row(static_cast<Eigen::Index>(r));
    }
    out.rows_requantised = static_cast<int>(redo.size());
    for (int i : redo) out.row_requantised[i] = 1;
  }
  // Local V pruning: each row multiplies only the V rows of its largest
  // probabilities (no renormalisation, as the hardware).
  std::vector<char> fetched(mask.cols, 0);
  for (int i = 0; i < mask.rows; ++i) {
    if (!row_active.empty() && !row_active[i]) continue;
    const int b = mask.indptr[i], n = mask.row_nnz(i);
    if (n == 0) continue;
    const int keep = std::max(1, static_cast<int>(std::ceil(num.v_keep * n)));
    std::vector<int> used;
    if (keep < n) {
      std::vector<double> p(out.attention.probs.begin() + b, out.attention.probs.begin() + b + n);
      const TopK t = topk_quickselect(p, keep, num.topk_parallelism, num.topk_pivot);
      used = t.indices;
      out.row_topk_cycles[i] = t.cycles;
      out.topk_v_cycles += t.cycles;
      Eigen::VectorXd acc = Eigen::VectorXd::Zero(kv.v.cols());
      for (int x : used) acc += static_cast<double>(out.attention.probs[b + x]) * kv.v.row(mask.indices[b + x]).transpose();
      for (Eigen::Index c = 0; c < acc.size(); ++c) out.attention.output(i, c) = static_cast<float>(fmt.round(acc[c]));
    } else {
      used.resize(n);
      for (int x = 0; x < n; ++x) used[x] = x;
    }
    out.v_rows_used += static_cast<int64_t>(used.size());
    for (int x : used) fetched[mask.indices[b + x]] = 1;
  }
  out.v_rows_fetched = std::count(fetched.begin(), fetched.end(), 1);
  return out;
}

}  // namespace attnsim
