#include "kernels/number_format.h"

#include <cmath>
#include <regex>
#include <stdexcept>

namespace attnsim {

NumberFormat NumberFormat::parse(const std::string& text) {
  NumberFormat f;
  if (text == "fp32") return f;
  std::smatch m;
  if (std::regex_match(text, m, std::regex("fixed([0-9]+)\\.([0-9]+)"))) {
    f.kind = Kind::fixed;
    f.width = std::stoi(m[1]);
    f.frac = std::stoi(m[2]);
    if (f.width < 2 || f.width > 32 || f.frac < 0 || f.frac >= f.width)
      throw std::invalid_argument("fixed-point format needs 2 <= width <= 32 and 0 <= frac < width");
    f.scale_ = std::ldexp(1.0, f.frac);
    f.inv_scale_ = std::ldexp(1.0, -f.frac);
    f.lo_ = -std::ldexp(1.0, f.width - 1);
    f.hi_ = std::ldexp(1.0, f.width - 1) - 1;
    return f;
  }
  throw std::invalid_argument("expected \"fp32\" or \"fixedW.F\" (e.g. \"fixed16.8\")");
}

std::string NumberFormat::name() const {
  return kind == Kind::fp32 ? "fp32" : "fixed" + std::to_string(width) + "." + std::to_string(frac);
}

double NumberFormat::lsb() const { return is_fixed() ? std::ldexp(1.0, -frac) : 0.0; }
double NumberFormat::max_value() const {
  return is_fixed() ? (std::ldexp(1.0, width - 1) - 1) * lsb() : 3.4028234663852886e38;
}
double NumberFormat::min_value() const { return is_fixed() ? -std::ldexp(1.0, width - 1) * lsb() : -max_value(); }

}  // namespace attnsim
