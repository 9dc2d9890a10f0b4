#include <gtest/gtest.h>

#include <cmath>

#include "kernels/sanger_predict.h"

using namespace attnsim;

namespace {
struct Head {
  MatF q, k;
};
Head random_head(int s, int d, unsigned seed) {
  std::srand(seed);
  return {MatF::Random(s, d) * 2, MatF::Random(s, d) * 2};
}
}  // namespace

TEST(SangerPredict, ScoresAreRescaledIntegerProducts) {
  const Head h = random_head(16, 8, 1);
  const HeadQuant hq = quantize_head(h.q, h.k, 4);
  PredictorParams p;
  p.scale = 1 / std::sqrt(8.0);
  const Prediction pr = predict_tile(hq, 4, 6, p);
  const int dot = (hq.q.values.row(4 + 2).cast<int>() * hq.k.values.row(5).cast<int>().transpose())(0, 0);
  EXPECT_NEAR(pr.scores(2, 5), dot / (hq.q.scale * hq.k.scale) * p.scale, 1e-5);
  EXPECT_EQ(pr.mask.rows, 6);
}

TEST(SangerPredict, ThresholdIsStrict) {
  const Head h = random_head(12, 8, 2);
  const HeadQuant hq = quantize_head(h.q, h.k, 4);
  PredictorParams p;
  p.threshold = 0;
  p.scale = 0.35;
  const Prediction all = predict_tile(hq, 0, 12, p);
  const float pj = all.probs(3, 7);
  p.threshold = pj;  // equal: excluded
  const Prediction eq = predict_tile(hq, 0, 12, p);
  auto row_has = [](const CsrMask& m, int r, int c) {
    for (int t = m.indptr[r]; t < m.indptr[r + 1]; ++t)
      if (m.indices[t] == c) return true;
    return false;
  };
  EXPECT_FALSE(row_has(eq.mask, 3, 7));
  p.threshold = std::nextafter(static_cast<double>(pj), 0.0);  // just below: kept
  EXPECT_TRUE(row_has(predict_tile(hq, 0, 12, p).mask, 3, 7));
  for (int r = 0; r < 12; ++r)
    for (int t = eq.mask.indptr[r]; t < eq.mask.indptr[r + 1]; ++t) EXPECT_GT(eq.probs(r, eq.mask.indices[t]), pj);
}

TEST(SangerPredict, EmptyRowsKeepTheirArgmax) {
  const Head h = random_head(10, 4, 3);
  const HeadQuant hq = quantize_head(h.q, h.k, 4);
  PredictorParams p;
  p.threshold = 1.0;  // nothing passes
  const Prediction pr = predict_tile(hq, 0, 10, p);
  for (int r = 0; r < 10; ++r) {
    ASSERT_EQ(pr.mask.row_nnz(r), 1);
    Eigen::Index arg;
    pr.probs.row(r).maxCoeff(&arg);
    EXPECT_EQ(pr.mask.indices[pr.mask.indptr[r]], arg);
  }
  p.keep_row_max = false;
  EXPECT_EQ(predict_tile(hq, 0, 10, p).mask.nnz(), 0);
}

TEST(SangerPredict, CausalMaskNeverLooksAhead) {
  const Head h = random_head(20, 8, 4);
  const HeadQuant hq = quantize_head(h.q, h.k, 4);
  PredictorParams p;
  p.causal = true;
  p.threshold = 0;
  const Prediction pr = predict_tile(hq, 8, 5, p);
  for (int r = 0; r < 5; ++r) {
    EXPECT_EQ(pr.mask.row_nnz(r), 8 + r + 1);
    for (int j = 8 + r + 1; j < 20; ++j) EXPECT_EQ(pr.probs(r, j), 0.0f);
    EXPECT_NEAR(pr.probs.row(r).sum(), 1.0, 1e-6);
  }
}
