#include "kernels/sanger_predict.h"

#include <algorithm>

#include "kernels/softmax.h"

namespace attnsim {

HeadQuant quantize_head(const MatF& q, const MatF& k, int bits) {
  return HeadQuant{quantize_symmetric(q, bits), quantize_symmetric(k, bits)};
}

Prediction predict_tile(const HeadQuant& hq, int row0, int rows, const PredictorParams& p) {
  // Integer products of <= 8-bit values summed over d <= 1024 stay exact in float.
  const MatF qi = hq.q.values.middleRows(row0, rows).cast<float>();
  const MatF ki = hq.k.values.cast<float>();
  const MatF acc = qi * ki.transpose();
  Prediction out;
  const float rescale = static_cast<float>(p.scale / (hq.q.scale * hq.k.scale));
  out.scores = acc * rescale;
  out.probs = softmax_rows(out.scores, p.causal, row0);
  out.mask.cols = static_cast<int>(ki.rows());
  std::vector<int32_t> cols;
  for (int i = 0; i < rows; ++i) {
    cols.clear();
    const int n = p.causal ? std::min<int>(out.mask.cols, row0 + i + 1) : out.mask.cols;
    int argmax = 0;
    for (int j = 0; j < n; ++j) {
      if (out.probs(i, j) > p.threshold) cols.push_back(j);
      if (out.probs(i, j) > out.probs(i, argmax)) argmax = j;
    }
    if (cols.empty() && p.keep_row_max && n > 0) cols.push_back(argmax);
    out.mask.add_row(cols);
    float m = 0;  // an empty row's exponentials are never used
    for (size_t c = 0; c < cols.size(); ++c) m = c ? std::max(m, out.scores(i, cols[c])) : out.scores(i, cols[c]);
    out.row_max.push_back(m);
  }
  return out;
}

}  // namespace attnsim
