#pragma once
// Accuracy of a mask and of an output against dense fp32 attention.
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/tensor.h"

namespace attnsim {

struct AccuracyStats {
  double max_abs_error = 0;
  double sum_sq_error = 0, sum_sq_ref = 0;
  double recall_sum = 0;  // Σ over rows of the reference probability mass kept by the mask
  int64_t rows = 0;
  int64_t kept = 0;     // mask nonzeros
  int64_t allowed = 0;  // entries a dense (or causal) attention computes

  void add_tile(const MatF& output, const DenseReference& ref, const CsrMask& mask, bool causal, int row0);
  void merge(const AccuracyStats& o);
  double density() const { return allowed ? static_cast<double>(kept) / static_cast<double>(allowed) : 0; }
  double recall() const { return rows ? recall_sum / static_cast<double>(rows) : 0; }
  // ||out - ref||_F / ||ref||_F
  double relative_error() const;
};

}  // namespace attnsim
