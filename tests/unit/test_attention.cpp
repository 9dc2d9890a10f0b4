#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/metrics.h"

using namespace attnsim;

namespace {
MatF random_matrix(int r, int c, unsigned seed) {
  std::srand(seed);
  return MatF::Random(r, c);
}
AttentionNumerics fp32(double scale) {
  return {NumberFormat::parse("fp32"), NumberFormat::parse("fp32"), ExpUnit::parse("exact"), scale};
}
}  // namespace

TEST(Attention, FullMaskFp32EqualsDenseReference) {
  const MatF q = random_matrix(8, 16, 1), k = random_matrix(20, 16, 2), v = random_matrix(20, 16, 3);
  const CsrMask mask = CsrMask::full(8, 20, false, 0);
  const auto out = masked_attention(q, prepare_operands(k, v, NumberFormat::parse("fp32")), mask, fp32(0.25));
  const auto ref = dense_reference(q, k, v, 0.25, false, 0);
  EXPECT_LT((out.output - ref.output).cwiseAbs().maxCoeff(), 1e-5);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 20; ++j) EXPECT_NEAR(out.probs[i * 20 + j], ref.probs(i, j), 1e-6);
}

TEST(Attention, CausalFullMaskMatchesCausalReference) {
  const MatF q = random_matrix(6, 8, 4), k = random_matrix(10, 8, 5), v = random_matrix(10, 8, 6);
  const CsrMask mask = CsrMask::full(6, 10, true, 4);  // queries 4..9
  EXPECT_EQ(mask.row_nnz(0), 5);
  EXPECT_EQ(mask.row_nnz(5), 10);
  const auto out = masked_attention(q, prepare_operands(k, v, NumberFormat::parse("fp32")), mask, fp32(0.5));
  const auto ref = dense_reference(q, k, v, 0.5, true, 4);
  EXPECT_LT((out.output - ref.output).cwiseAbs().maxCoeff(), 1e-5);
}

TEST(Attention, SparseRowRenormalisesOverKeptKeys) {
  MatF q(1, 2), k(3, 2), v(3, 2);
  q << 1, 0;
  k << 1, 0, 0, 0, 2, 0;  // scores 1, 0, 2
  v << 1, 0, 0, 1, 10, 10;
  CsrMask mask;
  mask.cols = 3;
  mask.add_row({0, 1});
  const auto out = masked_attention(q, prepare_operands(k, v, NumberFormat::parse("fp32")), mask, fp32(1.0));
  const double e0 = 1.0, e1 = std::exp(-1.0), z = e0 + e1;
  EXPECT_NEAR(out.probs[0], e0 / z, 1e-7);
  EXPECT_NEAR(out.probs[1], e1 / z, 1e-7);
  EXPECT_NEAR(out.output(0, 0), e0 / z, 1e-6);
  EXPECT_NEAR(out.output(0, 1), e1 / z, 1e-6);
}

TEST(Attention, EmptyRowOutputsZeros) {
  const MatF q = random_matrix(2, 4, 7), k = random_matrix(5, 4, 8), v = random_matrix(5, 4, 9);
  CsrMask mask;
  mask.cols = 5;
  mask.add_row({});
  mask.add_row({1, 3});
  const auto out = masked_attention(q, prepare_operands(k, v, NumberFormat::parse("fp32")), mask, fp32(0.5));
  EXPECT_EQ(out.output.row(0).cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_GT(out.output.row(1).cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_EQ(out.scores.size(), 2u);
}

TEST(Attention, FixedPointFollowsTheDatapathRounding) {
  const auto fmt = NumberFormat::parse("fixed8.2"), prob = NumberFormat::parse("fixed8.6");
  MatF q(1, 1), k(2, 1), v(2, 1);
  q << 1.1f;   // -> 1.0
  k << 2.0f, 0.9f;  // -> 2.0, 1.0
  v << 3.3f, -1.0f;  // -> 3.25, -1.0
  CsrMask mask;
  mask.cols = 2;
  mask.add_row({0, 1});
  const AttentionNumerics num{fmt, prob, ExpUnit::parse("exact"), 0.5};
  const auto out = masked_attention(q, prepare_operands(k, v, fmt), mask, num);
  // scores: round(2 * 0.5) = 1.0, round(1 * 0.5) = 0.5
  EXPECT_FLOAT_EQ(out.scores[0], 1.0f);
  EXPECT_FLOAT_EQ(out.scores[1], 0.5f);
  // e: 1 and round_1/64(exp(-0.5) = 0.6065) = 39/64
  const double e1 = 39.0 / 64, z = 1 + e1;
  EXPECT_FLOAT_EQ(out.probs[0], static_cast<float>(prob.round(1 / z)));
  EXPECT_FLOAT_EQ(out.output(0, 0), static_cast<float>(fmt.round((3.25 - e1) / z)));
}

TEST(Attention, SparseAndGemmPathsAgreeBitExactlyInFixedPoint) {
  const auto fmt = NumberFormat::parse("fixed16.8"), prob = NumberFormat::parse("fixed16.14");
  const MatF q = random_matrix(4, 8, 10) * 4, k = random_matrix(64, 8, 11) * 4, v = random_matrix(64, 8, 12);
  const AttentionNumerics num{fmt, prob, ExpUnit::parse("pwl6"), 1 / std::sqrt(8.0)};
  const HeadOperands kv = prepare_operands(k, v, fmt);
  CsrMask sparse, dense = CsrMask::full(4, 64, false, 0);
  sparse.cols = 64;
  for (int r = 0; r < 4; ++r) sparse.add_row({r, 10 + r, 40});  // 3 of 64 keys: dot-product path
  const auto a = masked_attention(q, kv, sparse, num);
  const auto b = masked_attention(q, kv, dense, num);  // GEMM path
  for (int r = 0; r < 4; ++r)
    for (int t = 0; t < 3; ++t) EXPECT_EQ(a.scores[r * 3 + t], b.scores[r * 64 + sparse.indices[r * 3 + t]]);
}

TEST(Metrics, RecallIntervalOfASample) {
  AccuracyStats a;
  a.rows = 4;
  a.recall_sum = 0.5 + 0.7 + 0.9 + 0.9;
  a.recall_sq_sum = 0.25 + 0.49 + 0.81 + 0.81;
  // mean 0.75, sample variance (2.36 - 4 * 0.5625) / 3 = 0.0366..., s / 2 * 1.96
  EXPECT_NEAR(a.recall_ci95_half_width(), 1.96 * std::sqrt(0.11 / 3) / 2, 1e-12);
  AccuracyStats one;
  one.rows = 1;
  EXPECT_EQ(one.recall_ci95_half_width(), 0.0);
}

TEST(Metrics, DensityRecallAndError) {
  const MatF q = random_matrix(4, 4, 13), k = random_matrix(4, 4, 14), v = random_matrix(4, 4, 15);
  const auto ref = dense_reference(q, k, v, 0.5, false, 0);
  CsrMask half;
  half.cols = 4;
  for (int r = 0; r < 4; ++r) half.add_row({0, 1});
  AccuracyStats s;
  s.add_tile(ref.output, ref, half, false, 0);
  EXPECT_DOUBLE_EQ(s.density(), 0.5);
  double recall = 0;
  for (int r = 0; r < 4; ++r) recall += ref.probs(r, 0) + ref.probs(r, 1);
  EXPECT_NEAR(s.recall(), recall / 4, 1e-6);
  EXPECT_EQ(s.relative_error(), 0.0);
  MatF off = ref.output;
  off(0, 0) += 0.5f;
  AccuracyStats t;
  t.add_tile(off, ref, half, false, 0);
  EXPECT_NEAR(t.max_abs_error, 0.5, 1e-6);
  EXPECT_GT(t.relative_error(), 0.0);
}

// Sanger's row_max = predictor: the array subtracts a given maximum (the
// predictor's low-bit row maximum) instead of the row's own. The bound: a
// kept score s above the given maximum m gives exp(s - m) > 1, which
// saturates where the prob format ends, i.e. exactly when s - m > ln(max of
// prob_format) (ln 2 for fixed16.14). Both kernels (integer codes and double)
// reach it and count it the same way.
TEST(Attention, GivenRowMaximumSaturatesAboveTheProbFormatsRange) {
  const auto fmt = NumberFormat::parse("fixed16.8"), prob = NumberFormat::parse("fixed16.14");
  const MatF q = random_matrix(4, 8, 20) * 4, k = random_matrix(32, 8, 21) * 4, v = random_matrix(32, 8, 22);
  AttentionNumerics num{fmt, prob, ExpUnit::parse("exact"), 1 / std::sqrt(8.0)};
  const HeadOperands kv = prepare_operands(k, v, fmt);
  const CsrMask mask = CsrMask::full(4, 32, false, 0);
  const auto own = masked_attention(q, kv, mask, num);
  std::vector<float> m(4);
  for (int r = 0; r < 4; ++r) m[r] = *std::max_element(own.scores.begin() + 32 * r, own.scores.begin() + 32 * r + 32);
  // The rows' own maxima given: the same values, nothing saturates.
  num.row_max = &m;
  const auto same = masked_attention(q, kv, mask, num);
  EXPECT_EQ(same.output, own.output);
  EXPECT_EQ(same.exp_saturated, 0);
  // Maxima 0.5 below the real ones (within ln 2): exp up to 1.65, no saturation,
  // the same softmax up to rounding.
  std::vector<float> low(4), lower(4);
  for (int r = 0; r < 4; ++r) low[r] = m[r] - 0.5f, lower[r] = m[r] - 2.0f;
  num.row_max = &low;
  const auto shifted = masked_attention(q, kv, mask, num);
  EXPECT_EQ(shifted.exp_saturated, 0);
  EXPECT_LT((shifted.output - own.output).cwiseAbs().maxCoeff(), 0.02f);
  // 2 below: every score within 2 - ln 2 of its row's maximum saturates.
  num.row_max = &lower;
  const auto sat = masked_attention(q, kv, mask, num);
  int64_t want = 0;
  for (int r = 0; r < 4; ++r)
    for (int t = 0; t < 32; ++t)
      want += std::exp(static_cast<double>(own.scores[32 * r + t]) - fmt.round(lower[r])) > prob.max_value();
  EXPECT_GT(want, 0);
  EXPECT_EQ(sat.exp_saturated, want);
  // The double kernel (no integer codes) agrees bit for bit.
  HeadOperands plain = kv;
  plain.code_frac = -1;
  plain.k_codes.resize(0, 0);
  plain.v_codes.resize(0, 0);
  plain.vt_codes.resize(0, 0);
  const auto sat_double = masked_attention(q, plain, mask, num);
  EXPECT_EQ(sat_double.exp_saturated, want);
  EXPECT_EQ(sat_double.output, sat.output);
}

// The sampled accuracy check has only some rows computed: those rows must
// come out exactly as in the whole tile (fixed point, as the presets run),
// the others zero.
TEST(Attention, SelectedRowsEqualTheWholeTilesRows) {
  const MatF q = random_matrix(12, 16, 21), k = random_matrix(40, 16, 22), v = random_matrix(40, 16, 23);
  const CsrMask mask = CsrMask::full(12, 40, true, 20);
  const AttentionNumerics num{NumberFormat::parse("fixed16.8"), NumberFormat::parse("fixed16.14"),
                              ExpUnit::parse("pwl6"), 0.25};
  const HeadOperands kv = prepare_operands(k, v, num.data);
  const auto all = masked_attention(q, kv, mask, num);
  const std::vector<int> rows{1, 5, 11};
  const auto some = masked_attention_rows(q, kv, select_rows(mask, rows), rows, num);
  ASSERT_EQ(some.output.rows(), 12);
  for (int i = 0; i < 12; ++i) {
    const bool selected = std::find(rows.begin(), rows.end(), i) != rows.end();
    for (int c = 0; c < 16; ++c) EXPECT_EQ(some.output(i, c), selected ? all.output(i, c) : 0.0f) << i << "," << c;
  }
  EXPECT_EQ(select_rows(mask, rows).row_nnz(2), mask.row_nnz(11));
}
