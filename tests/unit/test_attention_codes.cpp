// masked_attention's integer path (kernels/attention_codes.h): bit for bit
// the values of the definition (attention.h) computed entry by entry in
// double, on shared-key and scattered masks, saturating formats and operands
// large enough to split the int32 sums.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/attention_codes.h"
#include "kernels/patterns.h"
#include "kernels/quantize.h"

using namespace attnsim;

namespace {

// The definition, one kept entry at a time, in double (exact for these formats).
MaskedAttention definition(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask, const AttentionNumerics& num) {
  MatD q = q_tile.cast<double>();
  round_to_format(q, num.data);
  const int d = static_cast<int>(kv.k.cols());
  MaskedAttention out;
  out.scores.resize(mask.nnz());
  out.probs.resize(mask.nnz());
  out.output = MatF::Zero(mask.rows, d);
  for (int i = 0; i < mask.rows; ++i) {
    const int b = mask.indptr[i], e = mask.indptr[i + 1];
    if (b == e) continue;
    double m = -INFINITY, z = 0;
    for (int t = b; t < e; ++t) {
      double dot = 0;
      for (int c = 0; c < d; ++c) dot += q(i, c) * kv.k(mask.indices[t], c);
      out.scores[t] = static_cast<float>(num.data.round(dot * num.scale));
      m = std::max(m, static_cast<double>(out.scores[t]));
    }
    std::vector<double> ex(e - b), acc(d, 0.0);
    for (int t = b; t < e; ++t) {
      ex[t - b] = num.prob.round(num.exp(out.scores[t] - m));
      z += ex[t - b];
      for (int c = 0; c < d; ++c) acc[c] += ex[t - b] * kv.v(mask.indices[t], c);
    }
    for (int t = b; t < e; ++t) out.probs[t] = static_cast<float>(num.prob.round(ex[t - b] / z));
    for (int c = 0; c < d; ++c) out.output(i, c) = static_cast<float>(num.data.round(acc[c] / z));
  }
  return out;
}

struct Case {
  MatF q, k, v;
  AttentionNumerics num;
  HeadOperands kv;
};

Case make_case(int keys, int d, double q_range, double v_range, const char* data, const char* prob, const char* exp,
               unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  Case c;
  c.q = MatF::NullaryExpr(keys, d, [&] { return static_cast<float>(q_range * u(rng)); });
  c.k = MatF::NullaryExpr(keys, d, [&] { return static_cast<float>(q_range * u(rng)); });
  c.v = MatF::NullaryExpr(keys, d, [&] { return static_cast<float>(v_range * u(rng)); });
  c.num = {NumberFormat::parse(data), NumberFormat::parse(prob), ExpUnit::parse(exp), 1 / std::sqrt(double(d))};
  c.kv = prepare_operands(c.k, c.v, c.num.data);
  return c;
}

void expect_definition(const Case& c, const CsrMask& mask, int row0) {
  ASSERT_TRUE(codes_apply(c.kv, c.num));
  const MatF qt = c.q.middleRows(row0, mask.rows);
  const MaskedAttention want = definition(qt, c.kv, mask, c.num);
  const MaskedAttention got = masked_attention(qt, c.kv, mask, c.num);
  EXPECT_EQ(got.scores, want.scores);
  EXPECT_EQ(got.probs, want.probs);
  EXPECT_TRUE(got.output == want.output) << (got.output - want.output).cwiseAbs().maxCoeff();
}

CsrMask random_mask(int rows, int cols, double density, std::mt19937& rng, bool empty_rows) {
  std::bernoulli_distribution keep(density);
  CsrMask m;
  m.cols = cols;
  std::vector<int32_t> r;
  for (int i = 0; i < rows; ++i) {
    r.clear();
    if (!(empty_rows && i % 7 == 3))
      for (int j = 0; j < cols; ++j)
        if (keep(rng)) r.push_back(j);
    m.add_row(r);
  }
  return m;
}

CsrMask vertical_slash_tile(int seq, int row0, int rows) {
  HeadPattern p;
  p.kind = "vertical_slash";
  p.seq = seq;
  p.verticals = {0, 1, 2, 50, 200};
  p.slashes = {0, 1, 2, 3, 70, 130};
  p.prepare();
  MaskPlan plan;
  plan.by_query = {p};
  return plan.mask(row0, rows);
}

}  // namespace

TEST(AttentionCodes, BlockLayoutAndCausalTilesMatchTheDefinition) {
  for (const char* exp : {"pwl6", "exact"}) {
    const Case c = make_case(512, 32, 4, 2, "fixed16.8", "fixed16.14", exp, 3);
    expect_definition(c, vertical_slash_tile(512, 256, 64), 256);  // rows share key blocks: Σe·v over the union
    expect_definition(c, CsrMask::full(64, 512, true, 320), 320);   // causal tile
    expect_definition(c, CsrMask::full(37, 512, false, 0), 0);      // dense, a partial tile
  }
}

TEST(AttentionCodes, ScatteredMasksMatchTheDefinition) {
  std::mt19937 rng(5);
  const Case c = make_case(300, 24, 3, 1.5, "fixed16.8", "fixed16.14", "pwl6", 4);
  for (double density : {0.01, 0.1, 0.4, 1.0}) expect_definition(c, random_mask(48, 300, density, rng, true), 100);
  CsrMask pairs;  // 2 keys per row, union of 128: one multiply-add per kept entry
  pairs.cols = 300;
  for (int r = 0; r < 64; ++r) pairs.add_row({r * 3, 200 + r});
  expect_definition(c, pairs, 0);
}

TEST(AttentionCodes, SaturatingAndNarrowFormatsMatchTheDefinition) {
  std::mt19937 rng(6);
  const Case a = make_case(200, 16, 20, 10, "fixed8.4", "fixed8.6", "pwl4", 7);  // scores and values saturate
  for (double density : {0.05, 0.5}) expect_definition(a, random_mask(32, 200, density, rng, false), 10);
  const Case b = make_case(200, 16, 6, 3, "fixed12.6", "fixed12.10", "exact", 8);
  for (double density : {0.05, 0.5}) expect_definition(b, random_mask(32, 200, density, rng, false), 10);
}

TEST(AttentionCodes, OperandsNearTheFormatLimitSplitTheIntegerSums) {
  // Codes near 2^15: only a few products fit an int32 sum, so both the score
  // dot products and Σe·v are summed in int32 pieces added in int64.
  std::mt19937 rng(9);
  const Case c = make_case(256, 64, 127, 127, "fixed16.8", "fixed16.14", "exact", 10);
  ASSERT_GT(c.kv.k_code_max, 30000);
  expect_definition(c, CsrMask::full(64, 256, false, 0), 0);
  expect_definition(c, random_mask(64, 256, 0.05, rng, false), 64);
}

TEST(AttentionCodes, DoublePathGivesTheSameValues) {
  std::mt19937 rng(11);
  const Case c = make_case(256, 32, 4, 2, "fixed16.8", "fixed16.14", "pwl6", 12);
  HeadOperands no_codes = c.kv;
  encode_operands(no_codes, NumberFormat::parse("fp32"));  // clears the codes: the double path
  ASSERT_FALSE(codes_apply(no_codes, c.num));
  for (double density : {0.05, 0.6}) {
    const CsrMask m = random_mask(64, 256, density, rng, true);
    const MatF qt = c.q.topRows(64);
    const MaskedAttention a = masked_attention(qt, c.kv, m, c.num), b = masked_attention(qt, no_codes, m, c.num);
    EXPECT_EQ(a.scores, b.scores);
    EXPECT_EQ(a.probs, b.probs);
    EXPECT_TRUE(a.output == b.output);
  }
}

TEST(AttentionCodes, ProbabilitiesAreOptional) {
  const Case c = make_case(128, 16, 4, 2, "fixed16.8", "fixed16.14", "pwl6", 13);
  AttentionNumerics no_probs = c.num;
  no_probs.probabilities = false;
  const CsrMask m = CsrMask::full(16, 128, true, 32);
  const MatF qt = c.q.middleRows(32, 16);
  const MaskedAttention a = masked_attention(qt, c.kv, m, c.num), b = masked_attention(qt, c.kv, m, no_probs);
  EXPECT_TRUE(b.probs.empty());
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_TRUE(a.output == b.output);
}

TEST(AttentionCodes, WideAndFloatFormatsTakeTheDoublePath) {
  const Case wide = make_case(64, 8, 2, 1, "fixed20.12", "fixed16.14", "exact", 14);
  EXPECT_FALSE(codes_apply(wide.kv, wide.num));
  const Case fp = make_case(64, 8, 2, 1, "fp32", "fp32", "exact", 15);
  EXPECT_FALSE(codes_apply(fp.kv, fp.num));
  const Case narrow = make_case(64, 8, 2, 1, "fixed16.8", "fixed20.18", "exact", 16);
  EXPECT_FALSE(codes_apply(narrow.kv, narrow.num));
}
