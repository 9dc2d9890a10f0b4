#include "kernels/quantize.h"

#include <cmath>

#include "kernels/number_format.h"

namespace attnsim {

Quantized quantize_symmetric(const MatF& x, int bits) {
  const double qmax = std::ldexp(1.0, bits - 1) - 1;
  const double absmax = x.size() ? static_cast<double>(x.cwiseAbs().maxCoeff()) : 0.0;
  Quantized q;
  q.scale = absmax > 0 ? qmax / absmax : 1.0;  // an all-zero tensor quantises to zeros
  q.values.resize(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double v = std::nearbyint(static_cast<double>(x.data()[i]) * q.scale);
    q.values.data()[i] = static_cast<int8_t>(std::max(-qmax, std::min(qmax, v)));
  }
  return q;
}

void round_to_format(MatD& x, const NumberFormat& f) {
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = f.round(x.data()[i]);
}

}  // namespace attnsim
