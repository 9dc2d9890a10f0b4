#include "kernels/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/attention_codes.h"
#include "kernels/quantize.h"

namespace attnsim {

HeadOperands prepare_operands(const MatF& k, const MatF& v, const NumberFormat& data) {
  HeadOperands h;
  h.k = k.cast<double>();
  h.v = v.cast<double>();
  if (data.is_fixed()) {
    round_to_format(h.k, data);
    round_to_format(h.v, data);
  }
  encode_operands(h, data);
  return h;
}

MaskedAttention masked_attention_rows(const MatF& q_tile, const HeadOperands& kv, const CsrMask& rows_mask,
                                      const std::vector<int>& rows, const AttentionNumerics& num) {
  MatF q(static_cast<Eigen::Index>(rows.size()), q_tile.cols());
  std::vector<float> row_max;
  for (size_t r = 0; r < rows.size(); ++r) {
    q.row(static_cast<Eigen::Index>(r)) = q_tile.row(rows[r]);
    if (num.row_max) row_max.push_back((*num.row_max)[rows[r]]);
  }
  AttentionNumerics sub = num;
  sub.probabilities = false;
  if (num.row_max) sub.row_max = &row_max;
  const MaskedAttention part = masked_attention(q, kv, rows_mask, sub);
  MaskedAttention out;
  out.output = MatF::Zero(q_tile.rows(), kv.v.cols());
  for (size_t r = 0; r < rows.size(); ++r) out.output.row(rows[r]) = part.output.row(static_cast<Eigen::Index>(r));
  out.exp_saturated = part.exp_saturated;
  return out;
}

CsrMask select_rows(const CsrMask& mask, const std::vector<int>& rows) {
  CsrMask m;
  m.cols = mask.cols;
  for (int r : rows) {
    m.indices.insert(m.indices.end(), mask.indices.begin() + mask.indptr[r], mask.indices.begin() + mask.indptr[r + 1]);
    m.indptr.push_back(static_cast<int32_t>(m.indices.size()));
    ++m.rows;
  }
  return m;
}

MaskedAttention masked_attention(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask,
                                 const AttentionNumerics& num) {
  if (codes_apply(kv, num)) return masked_attention_codes(q_tile, kv, mask, num);
  MatD q = q_tile.cast<double>();
  if (num.data.is_fixed()) round_to_format(q, num.data);
  // Scores in double: exact for fixed point (products of W-bit values summed
  // stay below 2^53); for fp32 a double sum rounded to float. A sparse mask
  // takes one dot product per kept entry, a denser one a GEMM: fixed-point
  // results are identical either way, fp32 ones can differ in the last bit.
  const bool sparse = mask.nnz() * 4 < static_cast<int64_t>(mask.rows) * mask.cols;
  MatD raw;
  if (!sparse) raw = q * kv.k.transpose();
  MaskedAttention out;
  out.scores.resize(mask.nnz());
  if (num.probabilities) out.probs.resize(mask.nnz());
  out.output = MatF::Zero(q_tile.rows(), kv.v.cols());

  // Exponentials per kept entry; then SpMM Σ e·v, as a GEMM over the tile
  // when the mask is dense (fixed point: exact either way, the products and
  // sums of fixed-point values being exact in double).
  std::vector<double> z(mask.rows, 0.0);
  MatD e_dense;
  if (!sparse) e_dense = MatD::Zero(mask.rows, mask.cols);
  std::vector<double> e(mask.nnz());
  for (int i = 0; i < mask.rows; ++i) {
    const int b = mask.indptr[i], n = mask.row_nnz(i);
    if (n == 0) continue;
    double m = -INFINITY;
    for (int t = b; t < b + n; ++t) {
      const int j = mask.indices[t];
      const double dot = sparse ? q.row(i).dot(kv.k.row(j)) : raw(i, j);
      out.scores[t] = static_cast<float>(num.data.round(dot * num.scale));
      m = std::max(m, static_cast<double>(out.scores[t]));
    }
    m = exp_offset(num, i, m);
    for (int t = b; t < b + n; ++t) {
      e[t] = exp_of_score(num, out.scores[t], m, out.exp_saturated);
      z[i] += e[t];
      if (!sparse) e_dense(i, mask.indices[t]) = e[t];
    }
    if (num.probabilities)
      for (int t = b; t < b + n; ++t) out.probs[t] = static_cast<float>(num.prob.round(e[t] / z[i]));
  }
  MatD acc;
  if (!sparse) {
    acc = e_dense * kv.v;
  } else {
    acc = MatD::Zero(mask.rows, kv.v.cols());
    for (int i = 0; i < mask.rows; ++i)
      for (int t = mask.indptr[i]; t < mask.indptr[i + 1]; ++t) acc.row(i) += e[t] * kv.v.row(mask.indices[t]);
  }
  for (int i = 0; i < mask.rows; ++i) {
    if (mask.row_nnz(i) == 0) continue;
    for (Eigen::Index c = 0; c < acc.cols(); ++c) out.output(i, c) = static_cast<float>(num.data.round(acc(i, c) / z[i]));
  }
  return out;
}

DenseReference dense_reference(const MatF& q_tile, const MatF& k, const MatF& v, double scale, bool causal,
                               int row0) {
  const MatF s = (q_tile * k.transpose()) * static_cast<float>(scale);
  DenseReference r;
  r.probs = softmax_rows(s, causal, row0);
  r.output = r.probs * v;
  return r;
}

DenseReference dense_reference(const MatF& q_rows, const MatF& k, const MatF& v, double scale, bool causal,
                               const std::vector<int>& rows) {
  // Causal: only the keys up to the last row's take part.
  const Eigen::Index keys =
      causal && !rows.empty() ? std::min<Eigen::Index>(k.rows(), *std::max_element(rows.begin(), rows.end()) + 1) : k.rows();
  const MatF s = (q_rows * k.topRows(keys).transpose()) * static_cast<float>(scale);
  DenseReference r;
  r.probs = MatF::Zero(q_rows.rows(), k.rows());
  r.probs.leftCols(keys) = softmax_rows(s, causal, rows);
  r.output = r.probs.leftCols(keys) * v.topRows(keys);
  return r;
}

}  // namespace attnsim
