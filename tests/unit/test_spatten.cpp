#include <gtest/gtest.h>

#include "kernels/spatten.h"
#include "kernels/topk.h"

using namespace attnsim;

TEST(TopK, ExactlyKInIndexOrderWithTies) {
  const std::vector<double> v = {5, 1, 5, 3, 5, 2};
  const TopK t = topk_quickselect(v, 2, 4);
  EXPECT_EQ(t.indices, (std::vector<int>{0, 2}));  // three 5s tie: the first two by index
  EXPECT_EQ(topk_quickselect(v, 4, 4).indices, (std::vector<int>{0, 2, 3, 4}));
  EXPECT_EQ(topk_quickselect(v, 0, 4).indices.size(), 0u);
  EXPECT_EQ(topk_quickselect(v, 9, 4).indices.size(), 6u);
  const std::vector<double> same(7, 1.0);
  EXPECT_EQ(topk_quickselect(same, 3, 2).indices, (std::vector<int>{0, 1, 2}));
}

TEST(TopK, MatchesASortOnRandomData) {
  std::srand(3);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + std::rand() % 60, k = std::rand() % (n + 1);
    std::vector<double> v(n);
    for (auto& x : v) x = std::rand() % 10;  // many ties
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
    std::vector<int> want(order.begin(), order.begin() + k);
    std::sort(want.begin(), want.end());
    EXPECT_EQ(topk_quickselect(v, k, 16).indices, want) << "n " << n << " k " << k;
  }
}

TEST(TopK, CyclesCountRoundsOfCeilNOverPPlus3) {
  // 8 distinct values, k = 4, P = 4. Round 1: pivot v[4] = 4 over {8,7,6,5,4,3,2,1}:
  // larger = {8,7,6,5} (4 >= k) -> keep them; round 2 over 4: pivot v[2]=6, larger {8,7} < 4, larger+equal 3 < 4,
  // so want = 1 from {5}: round 3 over 1: pivot 5, equal -> found. Cycles: (2+3) + (1+3) + (1+3) + emit (2+2).
  const std::vector<double> v = {8, 7, 6, 5, 4, 3, 2, 1};
  const TopK t = topk_quickselect(v, 4, 4, TopKPivot::middle);
  EXPECT_EQ(t.indices, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(t.rounds, 3);
  EXPECT_EQ(t.cycles, 5 + 4 + 4 + 4);
  EXPECT_EQ(topk_quickselect(v, 8, 4).cycles, 2 + 2);  // k = n: only the emit pass
  EXPECT_EQ(topk_quickselect(v, 0, 4).cycles, 0);
}

// An organ-pipe score vector, v[i] = min(i, n - 1 - i), n = 1024, k = 512,
// P = 16: the middle candidate is always the largest left, so the middle rule
// drops two elements a round (256 rounds); the random rule
// (TopKLatencyModel.scala's uniform pivot) takes a logarithmic number. The
// selected set is the same.
TEST(TopK, RandomPivotHasNoQuadraticWorstCase) {
  std::vector<double> v(1024);
  for (int i = 0; i < 1024; ++i) v[i] = std::min(i, 1023 - i);
  const TopK middle = topk_quickselect(v, 512, 16, TopKPivot::middle);
  const TopK random = topk_quickselect(v, 512, 16, TopKPivot::random);
  EXPECT_EQ(middle.indices, random.indices);
  EXPECT_EQ(middle.rounds, 256);
  EXPECT_EQ(middle.cycles, 13250);
  EXPECT_LT(random.rounds, 30);
  EXPECT_LT(random.cycles, 600);
}

TEST(TopK, PivotPositions) {
  EXPECT_EQ(topk_pivot_position(TopKPivot::middle, 3, 9), 4);
  for (int round = 0; round < 64; ++round) {
    const int64_t p = topk_pivot_position(TopKPivot::random, round, 37);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 37);
  }
  // Deterministic: the same round and count give the same position.
  EXPECT_EQ(topk_pivot_position(TopKPivot::random, 5, 1000), topk_pivot_position(TopKPivot::random, 5, 1000));
  EXPECT_NE(topk_pivot_position(TopKPivot::random, 0, 1000), topk_pivot_position(TopKPivot::random, 1, 1000));
}

TEST(KeepSchedule, RampAndExplicit) {
  KeepSchedule s{0.25, 0.5, {}};
  EXPECT_DOUBLE_EQ(s.keep(0, 4), 1.0);   // first 25 % of 4 layers: layer 0
  EXPECT_DOUBLE_EQ(s.keep(1, 4), 1.0 - 0.5 / 3);
  EXPECT_DOUBLE_EQ(s.keep(3, 4), 0.5);
  KeepSchedule none{0.0, 1.0, {}};
  for (int l = 0; l < 6; ++l) EXPECT_DOUBLE_EQ(none.keep(l, 6), 1.0);
  KeepSchedule e{0, 0, {1.0, 0.8, 0.3}};
  EXPECT_DOUBLE_EQ(e.keep(1, 5), 0.8);
  EXPECT_DOUBLE_EQ(e.keep(4, 5), 0.3);  // the list's last value continues
}

namespace {
MaskedAttention fake_result(const CsrMask& m, const std::vector<float>& per_col, int d) {
  MaskedAttention r;
  for (int i = 0; i < m.rows; ++i)
    for (int t = m.indptr[i]; t < m.indptr[i + 1]; ++t) r.probs.push_back(per_col[m.indices[t]]);
  r.scores = r.probs;
  r.output = MatF::Ones(m.rows, d);
  return r;
}
}  // namespace

TEST(CascadePruner, KeepsTheMostAttendedTokensAndTheyStayPruned) {
  // 1 batch, 2 heads, 3 layers, 8 tokens; tokens: keep 50 % from layer 1 on.
  CascadePruner p(8, 1, 2, 3, KeepSchedule{0, 0, {1.0, 0.5, 0.5}}, KeepSchedule{0, 1.0, {}}, 4);
  EXPECT_EQ(p.begin_layer(0), 0);  // nothing pruned yet: the engine does not run
  std::vector<char> active;
  const CsrMask m0 = p.tile_mask(0, 0, 8, false, active);
  EXPECT_EQ(m0.nnz(), 64);
  // Tokens 1, 3, 5, 7 receive most attention.
  p.observe(0, m0, fake_result(m0, {0.01f, 0.2f, 0.01f, 0.2f, 0.01f, 0.2f, 0.01f, 0.2f}, 4));
  EXPECT_GT(p.begin_layer(1), 0);
  EXPECT_EQ(p.tokens_kept(0), 4);
  const CsrMask m1 = p.tile_mask(1, 0, 8, false, active);
  EXPECT_EQ(active, (std::vector<char>{0, 1, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(m1.row_nnz(0), 0);
  EXPECT_EQ(m1.row_nnz(1), 4);
  EXPECT_EQ(m1.indices[0], 1);
  // Now tokens 0 and 2 would win, but pruned tokens stay pruned.
  p.observe(1, m1, fake_result(m1, {9, 0, 9, 0, 9, 0, 9, 0}, 4));
  p.begin_layer(2);
  EXPECT_EQ(p.tokens_kept(0), 4);
  p.tile_mask(0, 0, 8, false, active);
  EXPECT_EQ(active, (std::vector<char>{0, 1, 0, 1, 0, 1, 0, 1}));
}

TEST(CascadePruner, HeadPruningAndCausalMasks) {
  CascadePruner p(4, 1, 4, 2, KeepSchedule{0, 1.0, {}}, KeepSchedule{0.5, 0.5, {}}, 16);
  p.begin_layer(0);
  std::vector<char> active;
  for (int h = 0; h < 4; ++h) {
    const CsrMask m = p.tile_mask(h, 0, 4, true, active);
    EXPECT_EQ(m.nnz(), 10);  // causal 4x4
    MaskedAttention r = fake_result(m, {0.1f, 0.1f, 0.1f, 0.1f}, 2);
    r.output *= static_cast<float>(h == 2 || h == 0 ? 10 : 1);  // heads 0 and 2 matter most
    p.observe(h, m, r);
  }
  p.begin_layer(1);
  EXPECT_EQ(p.heads_kept(0), 2);
  EXPECT_TRUE(p.head_alive(0));
  EXPECT_FALSE(p.head_alive(1));
  EXPECT_TRUE(p.head_alive(2));
  const CsrMask dead = p.tile_mask(1, 0, 4, true, active);
  EXPECT_EQ(dead.nnz(), 0);
  EXPECT_EQ(std::count(active.begin(), active.end(), 1), 0);
}

TEST(SpattenAttention, ProgressiveQuantisationRecomputesFlatRows) {
  const auto fmt = NumberFormat::parse("fixed12.4");
  MatF q(2, 2), k(4, 2), v(4, 2);
  q << 4, 0, 0.01f, 0;      // row 0: peaked; row 1: nearly flat
  k << 3, 0, 0.3f, 0, 0.1f, 0, 0.2f, 0;
  v.setOnes();
  const HeadOperands kv = prepare_operands(k, v, fmt);
  const HeadOperands msb = msb_operands(kv, fmt, 8);  // drops 4 LSBs: K in steps of 1.0
  SpattenNumerics num;
  num.base = {fmt, NumberFormat::parse("fixed16.14"), ExpUnit::parse("exact"), 1.0};
  num.msb_bits = 8;
  num.msb_operands = &msb;
  num.requant_threshold = 0.5;
  const CsrMask m = CsrMask::full(2, 4, false, 0);
  const SpattenTile t = spatten_attention(q, kv, m, {}, num);
  EXPECT_EQ(t.rows_requantised, 1);  // row 1's max probability is ~0.25 < 0.5
  // Row 1 recomputed with full keys equals plain masked attention on that row.
  const auto full = masked_attention(q, kv, m, num.base);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(t.attention.probs[4 + j], full.probs[4 + j]);
  // Row 0 kept its MSB-only scores: 4 * floor(3) = 12, 4 * 0 ...
  EXPECT_FLOAT_EQ(t.attention.scores[0], 12.0f);
  EXPECT_FLOAT_EQ(t.attention.scores[1], 0.0f);
}

TEST(SpattenAttention, LocalVPruningUsesOnlyTheLargestProbabilities) {
  const auto fp = NumberFormat::parse("fp32");
  MatF q(1, 1), k(4, 1), v(4, 1);
  q << 1;
  k << 3, 2, 1, 0;
  v << 1, 10, 100, 1000;
  const HeadOperands kv = prepare_operands(k, v, fp);
  SpattenNumerics num;
  num.base = {fp, fp, ExpUnit::parse("exact"), 1.0};
  num.v_keep = 0.5;  // 2 of 4
  const SpattenTile t = spatten_attention(q, kv, CsrMask::full(1, 4, false, 0), {}, num);
  EXPECT_EQ(t.v_rows_used, 2);
  EXPECT_EQ(t.v_rows_fetched, 2);
  EXPECT_GT(t.topk_v_cycles, 0);
  const float p0 = t.attention.probs[0], p1 = t.attention.probs[1];
  EXPECT_NEAR(t.attention.output(0, 0), p0 * 1 + p1 * 10, 1e-4);  // no renormalisation
}

TEST(CascadePruner, AllPrunedScheduleFloorsAtOneTokenAndOneHead) {
  // Keep 0 % from layer 1 on: the hardware still keeps k = 1 (the top-k
  // engine never emits an empty set), the most important token and head.
  CascadePruner p(6, 1, 3, 2, KeepSchedule{0, 0, {1.0, 0.0}}, KeepSchedule{0, 0, {1.0, 0.0}}, 4);
  p.begin_layer(0);
  std::vector<char> active;
  for (int h = 0; h < 3; ++h) {
    const CsrMask m = p.tile_mask(h, 0, 6, false, active);
    MaskedAttention r = fake_result(m, {0.1f, 0.1f, 0.1f, 0.9f, 0.1f, 0.1f}, 2);  // token 3 wins
    r.output *= static_cast<float>(h == 1 ? 5 : 1);                             // head 1 wins
    p.observe(h, m, r);
  }
  EXPECT_GT(p.begin_layer(1), 0);
  EXPECT_EQ(p.tokens_kept(0), 1);
  EXPECT_EQ(p.heads_kept(0), 1);
  EXPECT_TRUE(p.head_alive(1));
  const CsrMask m = p.tile_mask(1, 0, 6, false, active);
  EXPECT_EQ(m.nnz(), 1);  // the surviving query attends to the surviving key only
  EXPECT_EQ(m.row_nnz(3), 1);
  EXPECT_EQ(m.indices[0], 3);
  EXPECT_EQ(std::count(active.begin(), active.end(), 1), 1);
  EXPECT_EQ(p.tile_mask(0, 0, 6, false, active).nnz(), 0);  // a pruned head computes nothing
}

TEST(CascadePruner, NothingPrunedScheduleKeepsEverythingAtEveryLayer) {
  CascadePruner p(5, 2, 2, 4, KeepSchedule{0, 1.0, {}}, KeepSchedule{0, 1.0, {}}, 4);
  std::vector<char> active;
  for (int layer = 0; layer < 4; ++layer) {
    p.begin_layer(layer);
    for (int b = 0; b < 2; ++b) {
      EXPECT_EQ(p.tokens_kept(b), 5);
      EXPECT_EQ(p.heads_kept(b), 2);
    }
    for (int g = 0; g < 4; ++g) {
      const CsrMask m = p.tile_mask(g, 0, 5, true, active);
      EXPECT_EQ(m.nnz(), 15);  // causal 5x5, nothing removed
      p.observe(g, m, fake_result(m, {0.5f, 0.1f, 0.1f, 0.1f, 0.2f}, 2));
    }
  }
}

namespace {
// One nearly flat row (max probability ~0.25 of 4 keys) under progressive
// quantisation with threshold tau.
int rows_requantised_at(double tau) {
  const auto fmt = NumberFormat::parse("fixed12.4");
  MatF q(1, 2), k(4, 2), v(4, 2);
  q << 0.01f, 0;
  k << 3, 0, 0.3f, 0, 0.1f, 0, 0.2f, 0;
  v.setOnes();
  const HeadOperands kv = prepare_operands(k, v, fmt);
  const HeadOperands msb = msb_operands(kv, fmt, 8);
  SpattenNumerics num;
  num.base = {fmt, NumberFormat::parse("fixed16.14"), ExpUnit::parse("exact"), 1.0};
  num.msb_bits = 8;
  num.msb_operands = &msb;
  num.requant_threshold = tau;
  return spatten_attention(q, kv, CsrMask::full(1, 4, false, 0), {}, num).rows_requantised;
}
}  // namespace

TEST(SpattenAttention, RequantThresholdEdges) {
  EXPECT_EQ(rows_requantised_at(0.0), 0);   // tau = 0: no max probability is below it
  EXPECT_EQ(rows_requantised_at(0.2), 0);   // the row's max (~0.25) is above tau
  EXPECT_EQ(rows_requantised_at(0.5), 1);
  EXPECT_EQ(rows_requantised_at(1.01), 1);  // tau > 1: every row is recomputed
  // q = 0.01 rounds to 0 in fixed12.4, so all 4 scores are 0: the row is exactly
  // uniform, max = 0.25; "below tau" is strict, so tau = 0.25 keeps it.
  EXPECT_EQ(rows_requantised_at(0.25), 0);
  EXPECT_EQ(rows_requantised_at(0.2500001), 1);
}
