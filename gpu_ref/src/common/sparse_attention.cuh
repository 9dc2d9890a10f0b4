#pragma once
// Attention on a CSR mask through cuSPARSE, shared by the algorithm pieces:
// SDDMM (scores at the kept entries), the CSR-row softmax (softmax.cuh) and
// SpMM with V. The CSR is the block-diagonal matrix of all heads (csr.cuh):
// `rows` = heads * S rows, global columns head * S + j, so one library call
// covers every head.
#include <string>

#include "common/device.h"

namespace gpu_ref {

class SparseAttention {
 public:
  explicit SparseAttention(GpuContext& ctx) : ctx_(ctx) {}

  // scores[e] = alpha * (q_r · k_c) for every entry e = (r, c) of the mask;
  // q, k: [rows, D] row-major fp32. The first call decides how K enters
  // cuSPARSE (the first operand layout it accepts; see note()).
  void sddmm(const int* rowptr, const int* global_cols, int64_t rows, int D, int nnz, const float* q, const float* k,
             float alpha, float* scores);
  // out[r] = Σ_e probs[e] · v[c] over row r's entries; rows without entries
  // are set to 0. v, out: [rows, D] row-major fp32.
  void spmm(const int* rowptr, const int* global_cols, int64_t rows, int D, int nnz, const float* probs,
            const float* v, float* out);

  std::string sddmm_note() const;  // the layout used (and the ones tried) for meta.json
  static const char* spmm_note() { return "cusparseSpMM CSR x row-major V, CUSPARSE_SPMM_ALG_DEFAULT, fp32"; }

 private:
  enum class Layout { k_row_transposed, k_col, kt_row_materialised };
  static const char* layout_name(Layout l);
  // One SDDMM with the given layout; returns the first failing status (or SUCCESS).
  cusparseStatus_t sddmm_with(Layout l, const int* rowptr, const int* global_cols, int64_t rows, int D, int nnz,
                              const float* q, const float* k, float alpha, float* scores);

  GpuContext& ctx_;
  bool decided_ = false;
  Layout layout_ = Layout::k_row_transposed;
  std::string tries_;
  DeviceBuffer<float> kt_;
  DeviceBuffer<char> sddmm_ws_, spmm_ws_;
};

}  // namespace gpu_ref
