#include <gtest/gtest.h>

#include <cmath>

#include "kernels/quantize.h"
#include "kernels/softmax.h"

using namespace attnsim;

TEST(Quantize, AbsmaxMapsToTheLargestCode) {
  MatF x(1, 4);
  x << 0.5f, -2.0f, 1.0f, 0.0f;
  const Quantized q = quantize_symmetric(x, 4);
  EXPECT_DOUBLE_EQ(q.scale, 7.0 / 2.0);
  EXPECT_EQ(q.values(0, 1), -7);
  EXPECT_EQ(q.values(0, 0), 2);   // 1.75 -> 2
  EXPECT_EQ(q.values(0, 2), 4);   // 3.5 -> 4 (tie to even)
  EXPECT_EQ(q.values(0, 3), 0);
}

TEST(Quantize, TiesRoundToEvenAsTorchRound) {
  MatF x(1, 4);
  x << 7.0f, 0.5f, 1.5f, -2.5f;  // scale 1
  const Quantized q = quantize_symmetric(x, 4);
  EXPECT_DOUBLE_EQ(q.scale, 1.0);
  EXPECT_EQ(q.values(0, 1), 0);
  EXPECT_EQ(q.values(0, 2), 2);
  EXPECT_EQ(q.values(0, 3), -2);
}

TEST(Quantize, AllZeroAndWiderBits) {
  const Quantized z = quantize_symmetric(MatF::Zero(2, 3), 4);
  EXPECT_EQ(z.values.cwiseAbs().maxCoeff(), 0);
  MatF x(1, 2);
  x << 1.0f, -1.0f;
  const Quantized q8 = quantize_symmetric(x, 8);
  EXPECT_EQ(q8.values(0, 0), 127);
  EXPECT_EQ(q8.values(0, 1), -127);
}

TEST(ExpUnit, ExactIsStdExp) {
  const ExpUnit e = ExpUnit::parse("exact");
  for (double x : {-10.0, -1.0, 0.0, 0.3}) EXPECT_EQ(e(x), std::exp(x));
}

TEST(ExpUnit, PiecewiseLinearMatchesItsDefinition) {
  const ExpUnit e = ExpUnit::parse("pwl6");
  EXPECT_EQ(e.table_bits(), 6);
  EXPECT_DOUBLE_EQ(e(0.0), 1.0);
  // Breakpoints are exact: y = 1.4375 x is an integer plus a multiple of 1/64.
  const double x = -(3.0 + 5.0 / 64) / 1.4375;
  EXPECT_NEAR(e(x), std::exp2(-(3.0 + 5.0 / 64)), 1e-12);
  // Within the 5 % the paper accepts over the range softmax uses.
  for (double x2 = -8; x2 <= 0; x2 += 0.01) EXPECT_NEAR(e(x2) / std::exp(x2), 1.0, 0.05) << x2;
  // Linear interpolation over-estimates a convex function by < 2^-12 relative at 64 segments.
  for (double y = -4; y <= 0; y += 0.003) {
    const double got = e(y / 1.4375), want = std::exp2(y);
    EXPECT_LE(got / want - 1, 1.0 / 4096);
    EXPECT_GE(got / want - 1, -1e-12);
  }
  EXPECT_THROW(ExpUnit::parse("pwl0"), std::invalid_argument);
  EXPECT_THROW(ExpUnit::parse("taylor"), std::invalid_argument);
}

TEST(Softmax, RowsSumToOneAndCausalZeros) {
  MatF s(3, 4);
  s << 1, 2, 3, 4, 0, 0, 0, 0, -5, 10, 2, 1;
  const MatF p = softmax_rows(s, false, 0);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p.row(i).sum(), 1.0, 1e-6);
  EXPECT_NEAR(p(1, 2), 0.25, 1e-7);
  const MatF c = softmax_rows(s, true, 1);  // rows are queries 1, 2, 3
  EXPECT_EQ(c(0, 2), 0.0f);
  EXPECT_EQ(c(0, 3), 0.0f);
  EXPECT_NEAR(c(0, 0) + c(0, 1), 1.0, 1e-6);
  EXPECT_NEAR(c(2, 3) + c(2, 0) + c(2, 1) + c(2, 2), 1.0, 1e-6);
}
