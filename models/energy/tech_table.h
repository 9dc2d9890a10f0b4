#pragma once
// A technology table (configs/tech/*.json): energy per operation and area per
// unit, by number format and width, each number with its published source.
// Widths and capacities between the published points are interpolated as
// power laws (straight lines in log-log space).
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "kernels/number_format.h"

namespace attnsim {

// The arithmetic an operator works in: an integer (fixed-point) of `bits`
// bits, or an IEEE float of 16 or 32 bits.
struct Arith {
  bool fp = false;
  int bits = 32;
  static Arith of(const NumberFormat& f) { return f.is_fixed() ? Arith{false, f.width} : Arith{true, 32}; }
  static Arith integer(int bits) { return Arith{false, bits}; }
};

// y(x) through published points (x ascending), log-log linear between them
// and extended with the nearest segment's law outside.
class PowerLawCurve {
 public:
  PowerLawCurve() = default;
  explicit PowerLawCurve(std::vector<std::pair<double, double>> points);
  double at(double x) const;
  const std::vector<std::pair<double, double>>& points() const { return points_; }

 private:
  std::vector<std::pair<double, double>> points_;
};

// A unit built from adders and multipliers of one format (own model: its
// energy is that of its operations, its area that of its operators).
struct Composite {
  int adds = 0, mults = 0;
  int iterations = 1;  // an iterative unit runs its operators this many times per result
};

struct TechTable {
  std::string name, file;
  PowerLawCurve int_add_pj, int_mult_pj, int_add_um2, int_mult_um2;
  double fp16_add_pj = 0, fp16_mult_pj = 0, fp32_add_pj = 0, fp32_mult_pj = 0;
  double fp16_add_um2 = 0, fp16_mult_um2 = 0, fp32_add_um2 = 0, fp32_mult_um2 = 0;
  PowerLawCurve sram_pj_per_64bit;  // by capacity in KiB
  double dram_pj_per_64bit = 0;
  double sram_um2_per_kib = 0;
  Composite exp_pwl, exp_exact, reciprocal, softmax_element;

  double add_pj(Arith a) const;
  double mult_pj(Arith a) const;
  double add_um2(Arith a) const;
  double mult_um2(Arith a) const;
  double sram_pj_per_byte(double capacity_kib) const { return sram_pj_per_64bit.at(capacity_kib) / 8.0; }
  double dram_pj_per_byte() const { return dram_pj_per_64bit / 8.0; }
  // One result of a composite unit (all its iterations), and its operators.
  double composite_pj(const Composite& c, Arith a) const {
    return c.iterations * (c.adds * add_pj(a) + c.mults * mult_pj(a));
  }
  double composite_um2(const Composite& c, Arith a) const { return c.adds * add_um2(a) + c.mults * mult_um2(a); }

  // Errors name the file and the JSON path.
  static TechTable load(const std::string& file);
  static TechTable from_json(const nlohmann::json& j, const std::string& file);
};

}  // namespace attnsim
