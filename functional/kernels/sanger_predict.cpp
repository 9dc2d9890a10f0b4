#include "kernels/sanger_predict.h"

#include <algorithm>
#include <cmath>

#include "kernels/softmax.h"

namespace attnsim {

HeadQuant quantize_head(const MatF& q, const MatF& k, int bits) {
  return HeadQuant{quantize_symmetric(q, bits), quantize_symmetric(k, bits), {}, {}, false};
}

float l2_norm_f32(const float* x, int d) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < d; ++i) {
    const volatile float sq = x[i] * x[i];  // no fused multiply-add: torch rounds the square
    lane[i % 8] = lane[i % 8] + sq;
  }
  float total = lane[0];
  for (int l = 1; l < 8; ++l) total = total + lane[l];
  return std::sqrt(total);
}

QkRows predictor_rows(const MatF& q, const MatF& k, bool normalize) {
  QkRows r{q, k, {}, {}};
  if (!normalize) return r;
  auto normalise = [](MatF& m, std::vector<float>& norms) {
    norms.resize(m.rows());
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      const float n = l2_norm_f32(m.row(i).data(), static_cast<int>(m.cols()));
      norms[i] = n;
      for (Eigen::Index c = 0; c < m.cols(); ++c) m(i, c) = n > 0 ? m(i, c) / n : 0.0f;
    }
  };
  normalise(r.q, r.q_norm);
  normalise(r.k, r.k_norm);
  return r;
}

float absmax_f32(const MatF& x) { return x.size() ? x.cwiseAbs().maxCoeff() : 0.0f; }

namespace {
Quantized quantize_f32(const MatF& x, int bits, float absmax) {
  const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
  const volatile float inv = 1.0f / absmax;  // two float32 roundings, as torch's reciprocal() * 7
  const float s = absmax > 0 ? inv * qmax : 1.0f;
  Quantized out;
  out.scale = s;
  out.values.resize(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const volatile float y = x.data()[i] * s;
    out.values.data()[i] = static_cast<int8_t>(std::max(-qmax, std::min(qmax, std::nearbyint(static_cast<float>(y)))));
  }
  return out;
}
}  // namespace

HeadQuant quantize_head_sanger(const QkRows& rows, int bits, float absmax_q, float absmax_k) {
  return HeadQuant{quantize_f32(rows.q, bits, absmax_q), quantize_f32(rows.k, bits, absmax_k), rows.q_norm,
                   rows.k_norm, true};
}

Prediction predict_tile(const HeadQuant& hq, int row0, int rows, const PredictorParams& p) {
  // Integer products of <= 8-bit values summed over d <= 1024 stay exact in float.
  const MatF qi = hq.q.values.middleRows(row0, rows).cast<float>();
  const MatF ki = hq.k.values.cast<float>();
  const MatF acc = qi * ki.transpose();
  const int keys = static_cast<int>(ki.rows());
  Prediction out;
  if (!hq.sanger_recipe) {
    const float rescale = static_cast<float>(p.scale / (hq.q.scale * hq.k.scale));
    out.scores = acc * rescale;
    out.probs = softmax_rows(out.scores, p.causal, row0);
  } else {
    out.scores.resize(rows, keys);
    out.probs.resize(rows, keys);
  }
  // Sanger's code: the rescale (times the norms) and the softmax in double,
  // compared with a float32 threshold; a row at a time.
  const double threshold = hq.sanger_recipe ? static_cast<float>(p.threshold) : p.threshold;
  const double scales = hq.q.scale * hq.k.scale;
  const bool norms = !hq.q_norm.empty();
  thread_local std::vector<double> prob;
  prob.resize(keys);
  out.mask.cols = keys;
  std::vector<int32_t> cols;
  for (int i = 0; i < rows; ++i) {
    const int n = p.causal ? std::min(keys, row0 + i + 1) : keys;
    if (hq.sanger_recipe) {
      double m = -INFINITY, z = 0;
      for (int j = 0; j < keys; ++j) {
        double v = acc(i, j) / scales;
        if (norms) v *= static_cast<double>(hq.q_norm[row0 + i]) * hq.k_norm[j];
        prob[j] = v * p.scale;
        out.scores(i, j) = static_cast<float>(prob[j]);
        if (j < n) m = std::max(m, prob[j]);
      }
      for (int j = 0; j < n; ++j) z += prob[j] = std::exp(prob[j] - m);
      for (int j = 0; j < keys; ++j) {
        prob[j] = j < n ? prob[j] / z : 0.0;
        out.probs(i, j) = static_cast<float>(prob[j]);
      }
    } else {
      for (int j = 0; j < keys; ++j) prob[j] = out.probs(i, j);
    }
    cols.clear();
    int argmax = 0;
    for (int j = 0; j < n; ++j) {
      if (prob[j] > threshold) cols.push_back(j);
      if (prob[j] > prob[argmax]) argmax = j;
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
