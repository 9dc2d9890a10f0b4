#include "kernels/pattern_attention.h"

#include <cmath>

#include "kernels/quantize.h"

namespace attnsim {

std::vector<int32_t> mask_key_union(const CsrMask& mask) {
  std::vector<char> used(mask.cols, 0);
  for (int32_t j : mask.indices) used[j] = 1;
  std::vector<int32_t> u;
  for (int j = 0; j < mask.cols; ++j)
    if (used[j]) u.push_back(j);
  return u;
}

MaskedAttention masked_attention_union(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask,
                                       const AttentionNumerics& num, double min_fill) {
  const std::vector<int32_t> keys = mask_key_union(mask);
  const int n = static_cast<int>(keys.size());
  if (n == 0 || static_cast<double>(mask.nnz()) < min_fill * mask.rows * static_cast<double>(n))
    return masked_attention(q_tile, kv, mask, num);
  MatD q = q_tile.cast<double>();
  if (num.data.is_fixed()) round_to_format(q, num.data);
  const int d = static_cast<int>(kv.k.cols()), dv = static_cast<int>(kv.v.cols());
  std::vector<int32_t> pos(mask.cols, -1);
  MatD ku(n, d), vu(n, dv);
  for (int t = 0; t < n; ++t) {
    pos[keys[t]] = t;
    ku.row(t) = kv.k.row(keys[t]);
    vu.row(t) = kv.v.row(keys[t]);
  }
  const MatD raw = q * ku.transpose();  // rows x n
  MaskedAttention out;
  out.scores.resize(mask.nnz());
  out.probs.resize(mask.nnz());
  out.output = MatF::Zero(q_tile.rows(), dv);
  MatD e = MatD::Zero(mask.rows, n);
  std::vector<double> s, z(mask.rows, 0.0);
  for (int i = 0; i < mask.rows; ++i) {
    const int b = mask.indptr[i], m = mask.row_nnz(i);
    if (m == 0) continue;
    s.resize(m);
    double mx = -INFINITY;
    for (int t = 0; t < m; ++t) {
      s[t] = num.data.round(raw(i, pos[mask.indices[b + t]]) * num.scale);
      mx = std::max(mx, s[t]);
    }
    for (int t = 0; t < m; ++t) {
      const double x = num.prob.round(num.exp(s[t] - mx));
      e(i, pos[mask.indices[b + t]]) = x;
      z[i] += x;
      out.scores[b + t] = static_cast<float>(s[t]);
    }
    for (int t = 0; t < m; ++t)
      out.probs[b + t] = static_cast<float>(num.prob.round(e(i, pos[mask.indices[b + t]]) / z[i]));
  }
  const MatD acc = e * vu;  // rows x dv: Σ e·v, unnormalised (as the array accumulates it)
  for (int i = 0; i < mask.rows; ++i) {
    if (mask.row_nnz(i) == 0) continue;
    for (int c = 0; c < dv; ++c) out.output(i, c) = static_cast<float>(num.data.round(acc(i, c) / z[i]));
  }
  return out;
}

}  // namespace attnsim
