#include "kernels/metrics.h"

#include <cmath>

namespace attnsim {

void AccuracyStats::add_mask_counts(int rows, int cols, int64_t nnz, bool causal, int row0) {
  for (int i = 0; i < rows; ++i) allowed += causal ? std::min(cols, row0 + i + 1) : cols;
  kept += nnz;
}

void AccuracyStats::add_values(const MatF& output, const DenseReference& ref, const CsrMask& mask) {
  const MatD diff = output.cast<double>() - ref.output.cast<double>();
  if (diff.size()) max_abs_error = std::max(max_abs_error, diff.cwiseAbs().maxCoeff());
  sum_sq_error += diff.squaredNorm();
  sum_sq_ref += ref.output.cast<double>().squaredNorm();
  for (int i = 0; i < mask.rows; ++i) {
    double kept_mass = 0;
    for (int t = mask.indptr[i]; t < mask.indptr[i + 1]; ++t) kept_mass += ref.probs(i, mask.indices[t]);
    recall_sum += kept_mass;
    recall_sq_sum += kept_mass * kept_mass;
  }
  rows += mask.rows;
}

void AccuracyStats::merge(const AccuracyStats& o) {
  max_abs_error = std::max(max_abs_error, o.max_abs_error);
  sum_sq_error += o.sum_sq_error;
  sum_sq_ref += o.sum_sq_ref;
  recall_sum += o.recall_sum;
  recall_sq_sum += o.recall_sq_sum;
  sampled = sampled || o.sampled;
  rows += o.rows;
  kept += o.kept;
  allowed += o.allowed;
}

double AccuracyStats::recall_ci95_half_width() const {
  if (rows < 2) return 0;
  const double n = static_cast<double>(rows), mean = recall_sum / n;
  const double var = std::max(0.0, (recall_sq_sum - n * mean * mean) / (n - 1));
  return 1.96 * std::sqrt(var / n);
}

double AccuracyStats::relative_error() const {
  return sum_sq_ref > 0 ? std::sqrt(sum_sq_error / sum_sq_ref) : std::sqrt(sum_sq_error);
}

}  // namespace attnsim
