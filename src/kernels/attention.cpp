#include "kernels/attention.h"

#include <cmath>

#include "kernels/quantize.h"

namespace attnsim {

CsrMask CsrMask::full(int rows, int cols, bool causal, int row_offset) {
  CsrMask m;
  m.cols = cols;
  std::vector<int32_t> r;
  for (int i = 0; i < rows; ++i) {
    const int n = causal ? std::min(cols, row_offset + i + 1) : cols;
    r.resize(std::max(0, n));
    for (int j = 0; j < n; ++j) r[j] = j;
    m.add_row(r);
  }
  return m;
}

HeadOperands prepare_operands(const MatF& k, const MatF& v, const NumberFormat& data) {
  HeadOperands h{k.cast<double>(), v.cast<double>()};
  if (data.is_fixed()) {
    round_to_format(h.k, data);
    round_to_format(h.v, data);
  }
  return h;
}

MaskedAttention masked_attention(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask,
                                 const AttentionNumerics& num) {
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
  out.probs.resize(mask.nnz());
  out.output = MatF::Zero(q_tile.rows(), kv.v.cols());

  std::vector<double> s, e;
  Eigen::VectorXd acc(kv.v.cols());
  for (int i = 0; i < mask.rows; ++i) {
    const int b = mask.indptr[i], n = mask.row_nnz(i);
    if (n == 0) continue;
    s.resize(n);
    e.resize(n);
    double m = -INFINITY;
    for (int t = 0; t < n; ++t) {
      const int j = mask.indices[b + t];
      const double dot = sparse ? q.row(i).dot(kv.k.row(j)) : raw(i, j);
      s[t] = num.data.round(dot * num.scale);
      m = std::max(m, s[t]);
    }
    double z = 0;
    for (int t = 0; t < n; ++t) z += (e[t] = num.prob.round(num.exp(s[t] - m)));
    // As the array computes it: SpMM accumulates exp·V unnormalised (exact in
    // fixed point), then each output is divided by the row's exp sum.
    acc.setZero();
    for (int t = 0; t < n; ++t) {
      out.scores[b + t] = static_cast<float>(s[t]);
      out.probs[b + t] = static_cast<float>(num.prob.round(e[t] / z));
      acc += e[t] * kv.v.row(mask.indices[b + t]).transpose();
    }
    for (Eigen::Index c = 0; c < acc.size(); ++c) out.output(i, c) = static_cast<float>(num.data.round(acc[c] / z));
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

}  // namespace attnsim
