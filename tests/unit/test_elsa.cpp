#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "kernels/elsa.h"

using namespace attnsim;

namespace {

MatF gaussian(int rows, int cols, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  MatF m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(gen);
  return m;
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

bool bit(const ElsaHashes& h, int r, int t) { return (h.row(r)[t / 64] >> (t % 64)) & 1u; }

std::vector<int32_t> row_cols(const CsrMask& m, int r) {
  return {m.indices.begin() + m.indptr[r], m.indices.begin() + m.indptr[r + 1]};
}

// The estimate e_ij = c[H_ij] * norm(k_j) (the test's own copy of the rule).
double estimate(const ElsaHashes& q, int i, const ElsaHashes& k, int j, const std::vector<int32_t>& c) {
  return static_cast<double>(c[elsa_hamming(q, i, k, j)]) * k.norms[j];
}

struct Head {
  ElsaHashes q, k;
  std::vector<int32_t> cos;
  double scale;
};

Head random_head(int s, int d, int bits, unsigned seed) {
  const MatF a = elsa_projection(bits, d, 11);
  return {elsa_hash(gaussian(s, d, seed), a), elsa_hash(gaussian(s, d, seed + 1000), a), elsa_cos_table(bits),
          1.0 / std::sqrt(static_cast<double>(d))};
}

}  // namespace

TEST(Elsa, Splitmix64MatchesTheReferenceSequence) {
  uint64_t state = 0;  // the published splitmix64 outputs for seed 0
  EXPECT_EQ(elsa_splitmix64(state), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(elsa_splitmix64(state), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(elsa_splitmix64(state), 0x06c45d188009454fULL);
}

TEST(Elsa, ProjectionIsDeterministicAndMatchesAnIndependentImplementation) {
  // Bit patterns from a separate Python implementation of the rule (math.log,
  // math.cos, math.sqrt in double, numpy.float32), seed 42, k = 2, d = 3.
  const uint32_t want[6] = {0x3ed45626, 0xbf6452a8, 0x3fdd634e, 0x3f0badc8, 0xbf8a4af9, 0xbfe3b14b};
  const MatF a = elsa_projection(2, 3, 42);
  ASSERT_EQ(a.rows(), 2);
  ASSERT_EQ(a.cols(), 3);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bits_of(a.data()[i]), want[i]) << "entry " << i;
  const MatF b = elsa_projection(64, 32, 5), c = elsa_projection(64, 32, 5), e = elsa_projection(64, 32, 6);
  EXPECT_TRUE(b == c);
  EXPECT_FALSE(b == e);
  // Row-major fill: a taller matrix starts with the shorter one's entries.
  const MatF tall = elsa_projection(3, 3, 42);
  EXPECT_TRUE(tall.topRows(2) == a);
}

TEST(Elsa, ProjectionIsRoughlyStandardNormal) {
  const MatF a = elsa_projection(256, 256, 7);  // 65536 samples
  double sum = 0, sq = 0;
  int inside = 0;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    const double x = a.data()[i];
    sum += x;
    sq += x * x;
    inside += std::abs(x) < 1.0;
  }
  const double n = static_cast<double>(a.size());
  const double mean = sum / n, var = sq / n - mean * mean;
  // Standard errors: mean 1/256 = 0.0039, variance sqrt(2/n) = 0.0055, P(|z| < 1) 0.0018.
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(var, 1.0, 0.03);
  EXPECT_NEAR(inside / n, 0.6827, 0.01);
}

TEST(Elsa, BadParametersThrow) {
  EXPECT_THROW(elsa_projection(0, 8, 1), std::invalid_argument);
  EXPECT_THROW(elsa_projection(257, 8, 1), std::invalid_argument);
  EXPECT_THROW(elsa_cos_table(0), std::invalid_argument);
  EXPECT_THROW(elsa_log_inv_p(0.0), std::invalid_argument);
  EXPECT_THROW(elsa_log_inv_p(1.5), std::invalid_argument);
  EXPECT_THROW(elsa_hash(MatF::Ones(2, 4), elsa_projection(8, 5, 1)), std::invalid_argument);
  const Head h = random_head(8, 4, 8, 1);
  EXPECT_THROW(elsa_select(h.q, 0, 8, h.k, elsa_cos_table(9), 1.0, 0.5, false), std::invalid_argument);
  EXPECT_THROW(elsa_select(h.q, 4, 5, h.k, h.cos, 1.0, 0.5, false), std::invalid_argument);
}

TEST(Elsa, CosTableAndLogInvP) {
  EXPECT_EQ(elsa_cos_table(2), (std::vector<int32_t>{32768, 0, -32768}));
  // cos(pi/4) * 32768 = 23170.475...
  EXPECT_EQ(elsa_cos_table(4), (std::vector<int32_t>{32768, 23170, 0, -23170, -32768}));
  const std::vector<int32_t> c = elsa_cos_table(64);
  ASSERT_EQ(c.size(), 65u);
  for (int h = 0; h < 64; ++h) EXPECT_GT(c[h], c[h + 1]);
  EXPECT_EQ(c[16], 23170);
  EXPECT_EQ(elsa_log_inv_p(1.0), 0.0);
  EXPECT_DOUBLE_EQ(elsa_log_inv_p(std::exp(-2.0)), 2.0);
}

TEST(Elsa, HashBitsArePackedLittleEndian) {
  // Row t of the projection is +e0 when t % 3 == 0, -e0 otherwise, and 0 for
  // t = 129: with x = e0 bit t is 1 exactly for t % 3 == 0 and for t = 129 (a
  // dot product of 0 counts as >= 0). Three words, the last one partial.
  const int k = 130;
  MatF a = MatF::Zero(k, 2);
  for (int t = 0; t < k; ++t) a(t, 0) = t % 3 == 0 ? 1.0f : -1.0f;
  a(129, 0) = 0.0f;
  MatF x = MatF::Zero(1, 2);
  x(0, 0) = 1.0f;
  const ElsaHashes h = elsa_hash(x, a);
  ASSERT_EQ(h.words_per_row, 3);
  ASSERT_EQ(h.words.size(), 3u);
  EXPECT_EQ(h.hash_bits, k);
  for (int t = 0; t < k; ++t) EXPECT_EQ(bit(h, 0, t), t % 3 == 0 || t == 129) << "bit " << t;
  EXPECT_EQ(h.words[2] >> 2, 0u);  // nothing beyond bit 129
  EXPECT_EQ(h.words[0] & 0xf, 0x9u);  // bits 0 and 3
}

TEST(Elsa, NormIsTheDoubleL2Norm) {
  MatF x(2, 2);
  x << 3, 4, 1, 1;
  const ElsaHashes h = elsa_hash(x, elsa_projection(4, 2, 1));
  EXPECT_EQ(h.norms[0], 5.0);
  EXPECT_EQ(h.norms[1], std::sqrt(2.0));
}

TEST(Elsa, HashIsScaleInvariantAndOddUnderNegation) {
  const int k = 100;  // two words, the second partial
  const MatF a = elsa_projection(k, 24, 3);
  const MatF x = gaussian(50, 24, 4);
  const MatF x2 = x * 2.0f;
  const MatF neg = -x;
  const ElsaHashes h = elsa_hash(x, a), h2 = elsa_hash(x2, a), hn = elsa_hash(neg, a);
  EXPECT_EQ(h.words, h2.words);  // doubling scales every product and partial sum exactly
  // No dot product of random floats here is exactly 0 (checked), so -x flips every bit.
  const Eigen::MatrixXd dots = a.cast<double>() * x.cast<double>().transpose();
  ASSERT_GT(dots.cwiseAbs().minCoeff(), 0.0);
  int set = 0;
  for (int r = 0; r < 50; ++r)
    for (int t = 0; t < k; ++t) {
      EXPECT_NE(bit(h, r, t), bit(hn, r, t)) << "row " << r << " bit " << t;
      set += bit(h, r, t);
    }
  EXPECT_EQ(hn.words[1] >> (k - 64), 0u);  // the complement stays within k bits
  EXPECT_GT(set, 50 * k / 4);             // neither all zero nor all one
  EXPECT_LT(set, 50 * k * 3 / 4);
}

TEST(Elsa, HammingDistanceEstimatesTheAngle) {
  // Sign random projections: P(bit differs) = angle / pi, so pi * H / k
  // estimates the angle with a standard deviation <= pi * 0.5 / sqrt(k) =
  // 0.098 at k = 256. Pairs y = a x + z cover angles from ~0 to ~pi.
  const int k = 256, d = 64, pairs = 200;
  const MatF proj = elsa_projection(k, d, 9);
  const MatF x = gaussian(pairs, d, 20), z = gaussian(pairs, d, 21);
  MatF y(pairs, d);
  for (int p = 0; p < pairs; ++p) {
    const float mix = -4.0f + 8.0f * p / (pairs - 1);
    y.row(p) = mix * x.row(p) + z.row(p);
  }
  const ElsaHashes hx = elsa_hash(x, proj), hy = elsa_hash(y, proj);
  double worst = 0, sum = 0, lo = 10, hi = 0;
  for (int p = 0; p < pairs; ++p) {
    const Eigen::VectorXd a = x.row(p).cast<double>().transpose(), b = y.row(p).cast<double>().transpose();
    const double angle = std::acos(std::clamp(a.dot(b) / (a.norm() * b.norm()), -1.0, 1.0));
    const double est = M_PI * elsa_hamming(hx, p, hy, p) / k;
    worst = std::max(worst, std::abs(est - angle));
    sum += std::abs(est - angle);
    lo = std::min(lo, angle);
    hi = std::max(hi, angle);
  }
  EXPECT_LT(lo, 0.5);  // the pairs do span the range
  EXPECT_GT(hi, 2.6);
  EXPECT_LT(sum / pairs, 0.12);  // expected ~0.06
  EXPECT_LT(worst, 0.45);        // 4.6 standard deviations
}

TEST(Elsa, HandComputedThreeByThree) {
  // A = I (k = 2, d = 2): bit 0 = x0 >= 0, bit 1 = x1 >= 0; c = {32768, 0, -32768}.
  MatF a(2, 2);
  a << 1, 0, 0, 1;
  MatF q(3, 2), k(3, 2);
  q << 1, 1, -2, 1, 1, -1;   // hashes 0b11, 0b10, 0b01; norms sqrt2, sqrt5, sqrt2
  k << 3, 4, -1, 0, 0, -2;   // hashes 0b11, 0b10 (0 >= 0), 0b01 (0 >= 0); norms 5, 1, 2
  const ElsaHashes hq = elsa_hash(q, a), hk = elsa_hash(k, a);
  EXPECT_EQ(hq.words, (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_EQ(hk.words, (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_EQ(hk.norms, (std::vector<double>{5, 1, 2}));
  const std::vector<int32_t> c = elsa_cos_table(2);
  // Hamming distances: q0 {0, 1, 1}, q1 {1, 0, 2}, q2 {1, 2, 0}, so
  //   e(q0) = {163840, 0, 0}        m = 163840
  //   e(q1) = {0, 32768, -65536}    m = 32768
  //   e(q2) = {0, -32768, 65536}    m = 65536
  // bound = (m - e) * |q| * 0.5 / 32768:
  //   q0: {0, 2.5 sqrt2 = 3.54, 3.54}; q1: {0.5 sqrt5 = 1.12, 0, 1.5 sqrt5 = 3.35};
  //   q2: {sqrt2 = 1.41, 1.5 sqrt2 = 2.12, 0}.
  EXPECT_EQ(elsa_hamming(hq, 1, hk, 2), 2);
  const CsrMask m = elsa_select(hq, 0, 3, hk, c, 1.2, 0.5, false);
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.indptr, (std::vector<int32_t>{0, 1, 3, 4}));
  EXPECT_EQ(m.indices, (std::vector<int32_t>{0, 0, 1, 2}));
  // log_inv_p = 2: q2 also keeps k0 (1.41 <= 2); 4: every key.
  EXPECT_EQ(elsa_select(hq, 0, 3, hk, c, 2.0, 0.5, false).indices, (std::vector<int32_t>{0, 0, 1, 0, 2}));
  EXPECT_EQ(elsa_select(hq, 0, 3, hk, c, 4.0, 0.5, false).nnz(), 9);
  // Causal tile of rows 1..2: row 1 sees k0, k1 (max k1: keeps both), row 2 all.
  const CsrMask t = elsa_select(hq, 1, 2, hk, c, 1.2, 0.5, true);
  EXPECT_EQ(t.indptr, (std::vector<int32_t>{0, 2, 3}));
  EXPECT_EQ(t.indices, (std::vector<int32_t>{0, 1, 2}));
  // Causal row 0 sees only k0, which is then its maximum.
  EXPECT_EQ(row_cols(elsa_select(hq, 0, 1, hk, c, 0.0, 0.5, true), 0), (std::vector<int32_t>{0}));
}

TEST(Elsa, ThresholdOneKeepsOnlyTiesOfTheRowMaximum) {
  // Few hash bits and duplicated keys make ties of the estimate common.
  const int s = 24, d = 8, bits = 4;
  const MatF proj = elsa_projection(bits, d, 2);
  MatF keys = gaussian(s, d, 30);
  for (int j = 1; j < s; j += 3) keys.row(j) = keys.row(j - 1);
  const ElsaHashes hq = elsa_hash(gaussian(s, d, 31), proj), hk = elsa_hash(keys, proj);
  const std::vector<int32_t> c = elsa_cos_table(bits);
  const CsrMask m = elsa_select(hq, 0, s, hk, c, elsa_log_inv_p(1.0), 0.35, false);
  int rows_with_ties = 0;
  for (int i = 0; i < s; ++i) {
    double best = -INFINITY;
    for (int j = 0; j < s; ++j) best = std::max(best, estimate(hq, i, hk, j, c));
    std::vector<int32_t> want;
    for (int j = 0; j < s; ++j)
      if (estimate(hq, i, hk, j, c) == best) want.push_back(j);
    EXPECT_EQ(row_cols(m, i), want) << "row " << i;
    rows_with_ties += want.size() > 1;
  }
  EXPECT_GT(rows_with_ties, 0);
}

TEST(Elsa, TinyThresholdKeepsEveryAllowedKey) {
  const Head h = random_head(40, 16, 64, 3);
  const double lip = elsa_log_inv_p(1e-30);  // 69.08 > the largest bound 2 |q| |k| scale here
  for (bool causal : {false, true}) {
    const CsrMask m = elsa_select(h.q, 0, 40, h.k, h.cos, lip, h.scale, causal);
    const CsrMask all = CsrMask::full(40, 40, causal, 0);
    EXPECT_EQ(m.indptr, all.indptr) << "causal " << causal;
    EXPECT_EQ(m.indices, all.indices) << "causal " << causal;
  }
}

TEST(Elsa, CausalRowsNeverKeepLaterKeys) {
  const Head h = random_head(48, 16, 32, 4);
  for (int row0 : {0, 7, 30}) {
    // Every allowed key kept: the last one is i itself.
    const CsrMask all = elsa_select(h.q, row0, 48 - row0, h.k, h.cos, elsa_log_inv_p(1e-30), h.scale, true);
    ASSERT_EQ(all.rows, 48 - row0);
    for (int r = 0; r < all.rows; ++r) {
      ASSERT_GT(all.row_nnz(r), 0);
      EXPECT_EQ(all.indices[all.indptr[r + 1] - 1], row0 + r) << "row " << row0 + r;
    }
    // A selective threshold: still nothing beyond i.
    const CsrMask some = elsa_select(h.q, row0, 48 - row0, h.k, h.cos, elsa_log_inv_p(0.05), h.scale, true);
    EXPECT_LT(some.nnz(), all.nnz());
    for (int r = 0; r < some.rows; ++r) {
      ASSERT_GT(some.row_nnz(r), 0);
      EXPECT_LE(some.indices[some.indptr[r + 1] - 1], row0 + r) << "row " << row0 + r;
    }
  }
}

TEST(Elsa, TilesAreRowsOfTheWholeHead) {
  const Head h = random_head(32, 16, 64, 5);
  const double lip = elsa_log_inv_p(1e-2);
  for (bool causal : {false, true}) {
    const CsrMask whole = elsa_select(h.q, 0, 32, h.k, h.cos, lip, h.scale, causal);
    const CsrMask tile = elsa_select(h.q, 9, 8, h.k, h.cos, lip, h.scale, causal);
    for (int r = 0; r < 8; ++r) EXPECT_EQ(row_cols(tile, r), row_cols(whole, 9 + r));
  }
}

TEST(Elsa, KeptSetsGrowAsTheThresholdFalls) {
  const Head h = random_head(64, 32, 64, 6);
  std::vector<int64_t> counts;
  CsrMask prev;
  for (double p : {1.0, 0.5, 0.1, 1e-2, 1e-3, 1e-6}) {
    const CsrMask m = elsa_select(h.q, 0, 64, h.k, h.cos, elsa_log_inv_p(p), h.scale, false);
    if (!counts.empty()) {  // nested: every key kept at a larger threshold stays kept
      EXPECT_GE(m.nnz(), counts.back());
      for (int r = 0; r < 64; ++r) {
        const std::vector<int32_t> a = row_cols(prev, r), b = row_cols(m, r);
        EXPECT_TRUE(std::includes(b.begin(), b.end(), a.begin(), a.end())) << "p " << p << " row " << r;
      }
    }
    counts.push_back(m.nnz());
    prev = m;
  }
  EXPECT_LT(counts.front(), counts.back());  // the sweep does change the masks
  EXPECT_LT(counts.back(), 64 * 64 + 1);
}

TEST(Elsa, RowMaximumIsAlwaysKept) {
  const Head h = random_head(30, 16, 16, 7);
  const CsrMask m = elsa_select(h.q, 0, 30, h.k, h.cos, 0.0, h.scale, true);
  for (int i = 0; i < 30; ++i) {
    double best = -INFINITY;
    int arg = -1;
    for (int j = 0; j <= i; ++j)
      if (estimate(h.q, i, h.k, j, h.cos) > best) best = estimate(h.q, i, h.k, j, h.cos), arg = j;
    const std::vector<int32_t> cols = row_cols(m, i);
    EXPECT_TRUE(std::binary_search(cols.begin(), cols.end(), arg)) << "row " << i;
  }
}
