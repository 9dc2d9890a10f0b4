#include <gtest/gtest.h>

#include <cmath>

#include "kernels/number_format.h"

using attnsim::NumberFormat;

TEST(NumberFormat, ParsesNames) {
  EXPECT_FALSE(NumberFormat::parse("fp32").is_fixed());
  const auto f = NumberFormat::parse("fixed16.8");
  EXPECT_TRUE(f.is_fixed());
  EXPECT_EQ(f.width, 16);
  EXPECT_EQ(f.frac, 8);
  EXPECT_EQ(f.bytes(), 2);
  EXPECT_EQ(f.name(), "fixed16.8");
  EXPECT_DOUBLE_EQ(f.lsb(), 1.0 / 256);
}

TEST(NumberFormat, RejectsBadNames) {
  for (const char* bad : {"fp16x", "fixed16", "fixed8.8", "fixed40.2", "fixed1.0", "", "FIXED16.8"})
    EXPECT_THROW(NumberFormat::parse(bad), std::invalid_argument) << bad;
}

TEST(NumberFormat, FixedRoundsHalfUpLikeAddThenTruncate) {
  const auto f = NumberFormat::parse("fixed8.2");  // LSB 0.25, range -32 .. 31.75
  EXPECT_DOUBLE_EQ(f.round(0.125), 0.25);     // exactly half an LSB: up
  EXPECT_DOUBLE_EQ(f.round(0.124), 0.0);
  EXPECT_DOUBLE_EQ(f.round(-0.125), 0.0);     // half up, towards +inf
  EXPECT_DOUBLE_EQ(f.round(-0.126), -0.25);
  EXPECT_DOUBLE_EQ(f.round(1.3), 1.25);
}

TEST(NumberFormat, FixedSaturates) {
  const auto f = NumberFormat::parse("fixed8.2");
  EXPECT_DOUBLE_EQ(f.max_value(), 31.75);
  EXPECT_DOUBLE_EQ(f.min_value(), -32.0);
  EXPECT_DOUBLE_EQ(f.round(1000.0), 31.75);
  EXPECT_DOUBLE_EQ(f.round(-1000.0), -32.0);
}

TEST(NumberFormat, Fp32RoundsToNearestFloat) {
  const auto f = NumberFormat::parse("fp32");
  const double x = 1.0 + std::ldexp(1.0, -30);  // not representable in float
  EXPECT_EQ(f.round(x), 1.0);
  EXPECT_EQ(f.round(0.1), static_cast<double>(0.1f));
}
