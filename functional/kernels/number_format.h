#pragma once
// Number formats of the datapath: "fp32", or "fixedW.F" — two's complement,
// W bits in all, F of them fractional. Conversion rounds as an add-half-LSB-
// then-truncate circuit does (round half up) and saturates at the range ends.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace attnsim {

struct NumberFormat {
  enum class Kind { fp32, fixed } kind = Kind::fp32;
  int width = 32;  // bits in all
  int frac = 0;    // fractional bits (fixed only)

  static NumberFormat parse(const std::string& text);  // throws std::invalid_argument
  std::string name() const;
  bool is_fixed() const { return kind == Kind::fixed; }
  int bytes() const { return (width + 7) / 8; }
  double lsb() const;
  double max_value() const;
  double min_value() const;
  // Rounds a real value to this format (fp32: to the nearest float).
  double round(double x) const {
    if (kind == Kind::fp32) return static_cast<double>(static_cast<float>(x));
    return round_code(x) * inv_scale_;
  }
  // Fixed point: the code (an integer, as a double) round(x) * 2^frac.
  // Adds half an LSB, saturates, truncates (floor). Saturating first keeps
  // the value in int32 range (width <= 32), so the floor is a cast
  // (std::floor is a library call without SSE4.1), written branch-free (the
  // sign is data) so that loops vectorise: y - t is in (-1, 1), +0 when y is
  // an integer, and floor(y) = t - 1 where it is negative.
  double round_code(double x) const {
    const double y = std::min(hi_, std::max(lo_, x * scale_ + 0.5));
    const double t = static_cast<double>(static_cast<int32_t>(y));
    return t + std::min(0.0, std::copysign(1.0, y - t));
  }

 private:
  double scale_ = 1, inv_scale_ = 1, lo_ = 0, hi_ = 0;  // fixed: 2^frac, 2^-frac, code range
};

}  // namespace attnsim
