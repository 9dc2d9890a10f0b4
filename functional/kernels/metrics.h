#pragma once
// Accuracy of a mask and of an output against dense fp32 attention.
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/tensor.h"

namespace attnsim {

struct AccuracyStats {
  double max_abs_error = 0;
  double sum_sq_error = 0, sum_sq_ref = 0;
  double recall_sum = 0;  // Σ over compared rows of the reference probability mass kept by the mask
  double recall_sq_sum = 0;  // Σ of its squares (the sample's spread)
  bool sampled = false;      // rows compared are a sample (--accuracy-rows), not all
  int64_t rows = 0;       // rows compared with the reference (all, or a sample)
  int64_t kept = 0;       // mask nonzeros (all rows)
  int64_t allowed = 0;    // entries a dense (or causal) attention computes (all rows)

  // Density counts of a tile's mask (rows row0 ...).
  void add_mask(const CsrMask& mask, bool causal, int row0) { add_mask_counts(mask.rows, mask.cols, mask.nnz(), causal, row0); }
  void add_mask_counts(int rows, int cols, int64_t nnz, bool causal, int row0);
  // Error and recall of output rows against the reference; mask row i goes with output row i.
  void add_values(const MatF& output, const DenseReference& ref, const CsrMask& mask);
  void add_tile(const MatF& output, const DenseReference& ref, const CsrMask& mask, bool causal, int row0) {
    add_mask(mask, causal, row0);
    add_values(output, ref, mask);
  }
  void merge(const AccuracyStats& o);
  double density() const { return allowed ? static_cast<double>(kept) / static_cast<double>(allowed) : 0; }
  double recall() const { return rows ? recall_sum / static_cast<double>(rows) : 0; }
  // Sampled rows: the half-width of the recall's 95 % confidence interval,
  // 1.96 s / sqrt(n) with s the rows' sample standard deviation (normal
  // approximation; the sample is every k-th row, treated as random).
  double recall_ci95_half_width() const;
  // ||out - ref||_F / ||ref||_F
  double relative_error() const;
};

}  // namespace attnsim
