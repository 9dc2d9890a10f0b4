// masked_attention_union: the same values as masked_attention, by GEMMs over
// the union of a tile's keys.
#include <gtest/gtest.h>

#include "kernels/pattern_attention.h"
#include "kernels/patterns.h"

using namespace attnsim;

namespace {
MaskedAttention both(const CsrMask& m, const char* fmt, const char* exp, MaskedAttention* reference) {
  std::srand(3);
  const MatF q = MatF::Random(512, 32) * 2, k = MatF::Random(512, 32) * 2, v = MatF::Random(512, 32);
  const AttentionNumerics num{NumberFormat::parse(fmt),
                              NumberFormat::parse(std::string(fmt) == "fp32" ? "fp32" : "fixed16.14"),
                              ExpUnit::parse(exp), 0.18};
  const HeadOperands kv = prepare_operands(k, v, num.data);
  const MatF qt = q.middleRows(256, m.rows);
  *reference = masked_attention(qt, kv, m, num);
  return masked_attention_union(qt, kv, m, num);
}

CsrMask vertical_slash_tile() {
  HeadPattern p;
  p.kind = "vertical_slash";
  p.seq = 512;
  p.verticals = {0, 1, 2, 50, 200};
  p.slashes = {0, 1, 2, 3, 70, 130};
  p.prepare();
  MaskPlan plan;
  plan.by_query = {p};
  return plan.mask(256, 64);
}
}  // namespace

TEST(PatternAttention, FixedPointValuesAreIdentical) {
  const CsrMask m = vertical_slash_tile();
  ASSERT_GE(static_cast<double>(m.nnz()), 0.25 * m.rows * static_cast<double>(mask_key_union(m).size()));  // the GEMM path
  MaskedAttention ref;
  const MaskedAttention got = both(vertical_slash_tile(), "fixed16.8", "pwl6", &ref);
  EXPECT_EQ(got.scores, ref.scores);
  EXPECT_EQ(got.probs, ref.probs);
  EXPECT_TRUE(got.output == ref.output);
}

TEST(PatternAttention, Fp32ValuesAgreeToTheLastBits) {
  MaskedAttention ref;
  const MaskedAttention got = both(vertical_slash_tile(), "fp32", "exact", &ref);
  for (size_t t = 0; t < ref.probs.size(); ++t) EXPECT_NEAR(got.probs[t], ref.probs[t], 1e-6);
  EXPECT_LT((got.output - ref.output).cwiseAbs().maxCoeff(), 1e-5);
}

TEST(PatternAttention, ScatteredMasksFallBack) {
  CsrMask m;
  m.cols = 512;
  for (int r = 0; r < 64; ++r) m.add_row({r * 3, 256 + r});  // union of 128 keys, 2 per row
  EXPECT_EQ(mask_key_union(m).size(), 128u);
  MaskedAttention ref;
  const MaskedAttention got = both(m, "fixed16.8", "pwl6", &ref);
  EXPECT_EQ(got.scores, ref.scores);
  EXPECT_TRUE(got.output == ref.output);
}
