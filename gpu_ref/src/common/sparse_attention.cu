#include "common/sparse_attention.cuh"

namespace gpu_ref {

namespace {

// cuSPARSE descriptors (RAII).
struct SpMat {
  cusparseSpMatDescr_t d = nullptr;
  ~SpMat() {
    if (d) cusparseDestroySpMat(d);
  }
};
struct ConstSpMat {
  cusparseConstSpMatDescr_t d = nullptr;
  ~ConstSpMat() {
    if (d) cusparseDestroySpMat(d);
  }
};
struct DnMat {
  cusparseDnMatDescr_t d = nullptr;
  ~DnMat() {
    if (d) cusparseDestroyDnMat(d);
  }
};
struct ConstDnMat {
  cusparseConstDnMatDescr_t d = nullptr;
  ~ConstDnMat() {
    if (d) cusparseDestroyDnMat(d);
  }
};

// k [rows, D] -> kt [D, rows] (only for the last-resort SDDMM layout).
__global__ void transpose_kernel(const float* __restrict__ k, int64_t rows, int D, float* __restrict__ kt) {
  const int64_t total = rows * D;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = t / D;
    const int d = static_cast<int>(t % D);
    kt[d * rows + r] = k[t];
  }
}

bool unsupported(cusparseStatus_t s) { return s == CUSPARSE_STATUS_NOT_SUPPORTED || s == CUSPARSE_STATUS_INVALID_VALUE; }

}  // namespace

const char* SparseAttention::layout_name(Layout l) {
  switch (l) {
    case Layout::k_row_transposed: return "A=Q row-major (N), B=K row-major (T)";
    case Layout::k_col: return "A=Q row-major (N), B=K as column-major D x HS (N)";
    case Layout::kt_row_materialised: return "A=Q row-major (N), B=K^T materialised row-major (N)";
  }
  return "?";
}

cusparseStatus_t SparseAttention::sddmm_with(Layout l, const int* rowptr, const int* global_cols, int64_t rows,
                                             int D, int nnz, const float* q, const float* k, float alpha,
                                             float* scores) {
  const float zero = 0.f;
  SpMat C;
  ConstDnMat A, B;
  CHECK_CUSPARSE(cusparseCreateCsr(&C.d, rows, rows, nnz, const_cast<int*>(rowptr), const_cast<int*>(global_cols),
                                   scores, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO,
                                   CUDA_R_32F));
  CHECK_CUSPARSE(cusparseCreateConstDnMat(&A.d, rows, D, D, q, CUDA_R_32F, CUSPARSE_ORDER_ROW));
  cusparseOperation_t opB = CUSPARSE_OPERATION_NON_TRANSPOSE;
  switch (l) {
    case Layout::k_row_transposed:
      CHECK_CUSPARSE(cusparseCreateConstDnMat(&B.d, rows, D, D, k, CUDA_R_32F, CUSPARSE_ORDER_ROW));
      opB = CUSPARSE_OPERATION_TRANSPOSE;
      break;
    case Layout::k_col:
      CHECK_CUSPARSE(cusparseCreateConstDnMat(&B.d, D, rows, D, k, CUDA_R_32F, CUSPARSE_ORDER_COL));
      break;
    case Layout::kt_row_materialised: {
      kt_.ensure(rows * D);
      const int64_t blocks = std::min<int64_t>((rows * D + 255) / 256, 65535 * 8);
      transpose_kernel<<<static_cast<unsigned>(std::max<int64_t>(blocks, 1)), 256, 0, ctx_.stream>>>(k, rows, D,
                                                                                                      kt_.get());
      CHECK_LAUNCH(transpose_kernel);
      CHECK_CUSPARSE(cusparseCreateConstDnMat(&B.d, D, rows, rows, kt_.get(), CUDA_R_32F, CUSPARSE_ORDER_ROW));
      break;
    }
  }
  size_t bytes = 0;
  cusparseStatus_t s = cusparseSDDMM_bufferSize(ctx_.cusparse, CUSPARSE_OPERATION_NON_TRANSPOSE, opB, &alpha, A.d,
                                                B.d, &zero, C.d, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, &bytes);
  if (s != CUSPARSE_STATUS_SUCCESS) return s;
  sddmm_ws_.ensure(bytes);
  return cusparseSDDMM(ctx_.cusparse, CUSPARSE_OPERATION_NON_TRANSPOSE, opB, &alpha, A.d, B.d, &zero, C.d,
                       CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, sddmm_ws_.get());
}

void SparseAttention::sddmm(const int* rowptr, const int* global_cols, int64_t rows, int D, int nnz, const float* q,
                            const float* k, float alpha, float* scores) {
  if (nnz <= 0) return;
  CHECK_CUDA(cudaMemsetAsync(scores, 0, static_cast<size_t>(nnz) * sizeof(float), ctx_.stream));
  if (decided_) {
    CHECK_CUSPARSE(sddmm_with(layout_, rowptr, global_cols, rows, D, nnz, q, k, alpha, scores));
    return;
  }
  const Layout order[] = {Layout::k_row_transposed, Layout::k_col, Layout::kt_row_materialised};
  cusparseStatus_t s = CUSPARSE_STATUS_NOT_SUPPORTED;
  for (Layout l : order) {
    s = sddmm_with(l, rowptr, global_cols, rows, D, nnz, q, k, alpha, scores);
    tries_ += std::string(tries_.empty() ? "" : "; ") + layout_name(l) + ": " + cusparseGetErrorName(s);
    layout_ = l;
    if (!unsupported(s)) break;
  }
  if (unsupported(s)) throw GpuError("cusparseSDDMM", "no operand layout accepted: " + tries_);
  CHECK_CUSPARSE(s);
  decided_ = true;
}

void SparseAttention::spmm(const int* rowptr, const int* global_cols, int64_t rows, int D, int nnz,
                           const float* probs, const float* v, float* out) {
  CHECK_CUDA(cudaMemsetAsync(out, 0, static_cast<size_t>(rows) * D * sizeof(float), ctx_.stream));
  if (nnz <= 0) return;
  const float one = 1.f, zero = 0.f;
  ConstSpMat A;
  ConstDnMat B;
  DnMat C;
  CHECK_CUSPARSE(cusparseCreateConstCsr(&A.d, rows, rows, nnz, rowptr, global_cols, probs, CUSPARSE_INDEX_32I,
                                        CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
  CHECK_CUSPARSE(cusparseCreateConstDnMat(&B.d, rows, D, D, v, CUDA_R_32F, CUSPARSE_ORDER_ROW));
  CHECK_CUSPARSE(cusparseCreateDnMat(&C.d, rows, D, D, out, CUDA_R_32F, CUSPARSE_ORDER_ROW));
  size_t bytes = 0;
  CHECK_CUSPARSE(cusparseSpMM_bufferSize(ctx_.cusparse, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                         CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A.d, B.d, &zero, C.d, CUDA_R_32F,
                                         CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
  spmm_ws_.ensure(bytes);
  CHECK_CUSPARSE(cusparseSpMM(ctx_.cusparse, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                              &one, A.d, B.d, &zero, C.d, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, spmm_ws_.get()));
}

std::string SparseAttention::sddmm_note() const {
  return std::string("cusparseSDDMM CSR fp32 over the block-diagonal mask of all heads, ") + layout_name(layout_) +
         (tries_.empty() ? "" : " [tried: " + tries_ + "]");
}

}  // namespace gpu_ref
