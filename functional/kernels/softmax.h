#pragma once
// Softmax and the exponential units it runs on.
#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace attnsim {

// The exp unit of a PE. "exact": std::exp. "pwlN" (Sanger §4.3): x*log2(e) by
// shift-and-add (x + x/2 - x/16, i.e. 1.4375x), 2^frac from an N-bit-indexed
// piecewise-linear table (2^N segments on [0,1) with exact end points), then a
// shift by the integer part. Sanger uses N = 6.
class ExpUnit {
 public:
  static ExpUnit parse(const std::string& text);  // throws std::invalid_argument
  double operator()(double x) const;
  std::string name() const;
  int table_bits() const { return bits_; }

 private:
  int bits_ = 0;              // 0 = exact
  std::vector<double> table_;  // 2^(s / 2^bits), s = 0 .. 2^bits
};

// Row softmax in fp32 (max subtracted, as a GPU computes it); with causal,
// entries j > row0 + i get probability 0.
MatF softmax_rows(const MatF& scores, bool causal, int row0);
// The same with each row's query position given: row i is query rows[i].
MatF softmax_rows(const MatF& scores, bool causal, const std::vector<int>& rows);

}  // namespace attnsim
