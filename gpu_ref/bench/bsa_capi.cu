// C API of the fused block-sparse attention kernel and of gpu_ref's reference
// paths, for the Python benchmark (bench_block_sparse.py loads it with ctypes
// and passes PyTorch tensors' device pointers and its current stream).
//
// Every function returns 0 on success, else non-zero with the message in
// bsa_last_error(). Nothing here synchronises the stream except the set-up
// calls (mask upload, cuSPARSE plan creation).
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include "common/error.h"
#include "common/softmax.cuh"
#include "kernels/block_sparse_attn.h"

using namespace gpu_ref;

namespace {

thread_local std::string g_error;

template <class F>
int guarded(F&& f) {
  try {
    f();
    return 0;
  } catch (const InputError& e) {
    g_error = e.file() + ": " + e.what();
  } catch (const GpuError& e) {
    g_error = e.call() + ": " + e.what();
  } catch (const std::exception& e) {
    g_error = e.what();
  }
  return 1;
}

struct Mask {
  bsa::HostBlockMask host;
  std::unique_ptr<bsa::DeviceBlockMask> dev;
};

Mask* make_mask(bsa::HostBlockMask&& h) {
  auto m = std::make_unique<Mask>();
  m->host = std::move(h);
  m->dev = std::make_unique<bsa::DeviceBlockMask>(m->host, nullptr);
  return m.release();
}

cublasHandle_t cublas_handle() {
  static cublasHandle_t h = nullptr;
  if (!h) {
    CHECK_CUBLAS(cublasCreate(&h));
    CHECK_CUBLAS(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));  // IEEE fp32, no TF32: gpu_ref's dense path
  }
  return h;
}

// gpu_ref's "sanger" attention half: cuSPARSE SDDMM (scores on the mask) ->
// CSR row softmax -> cuSPARSE SpMM, fp32, over the block-diagonal CSR of all
// heads (global columns head * S + j).
struct SparsePlan {
  cusparseHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  cusparseSpMatDescr_t c_scores = nullptr;
  cusparseConstSpMatDescr_t a_probs = nullptr;
  cusparseConstDnMatDescr_t dq = nullptr, dk = nullptr, dv = nullptr;
  cusparseDnMatDescr_t dout = nullptr;
  cusparseOperation_t op_k = CUSPARSE_OPERATION_TRANSPOSE;
  float *scores = nullptr, *probs = nullptr, *out = nullptr;
  void *ws_sddmm = nullptr, *ws_spmm = nullptr;
  const int* rowptr = nullptr;
  long long nnz = 0;
  int rows = 0, D = 0;
  float alpha = 1.f;
  ~SparsePlan() {
    if (c_scores) cusparseDestroySpMat(c_scores);
    if (a_probs) cusparseDestroySpMat(a_probs);
    if (dq) cusparseDestroyDnMat(dq);
    if (dk) cusparseDestroyDnMat(dk);
    if (dv) cusparseDestroyDnMat(dv);
    if (dout) cusparseDestroyDnMat(dout);
    cudaFree(scores);
    cudaFree(probs);
    cudaFree(ws_sddmm);
    cudaFree(ws_spmm);
    if (handle) cusparseDestroy(handle);
  }
  void sddmm() {
    const float zero = 0.f;
    CHECK_CUDA(cudaMemsetAsync(scores, 0, nnz * sizeof(float), stream));
    CHECK_CUSPARSE(cusparseSDDMM(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, op_k, &alpha, dq, dk, &zero, c_scores,
                                 CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, ws_sddmm));
  }
  void rest() {
    const float one = 1.f, zero = 0.f;
    launch_csr_softmax(rowptr, scores, probs, rows, stream);
    CHECK_CUDA(cudaMemsetAsync(out, 0, static_cast<size_t>(rows) * D * sizeof(float), stream));
    CHECK_CUSPARSE(cusparseSpMM(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one,
                                a_probs, dv, &zero, dout, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, ws_spmm));
  }
};

}  // namespace

extern "C" {

const char* bsa_last_error() { return g_error.c_str(); }

int bsa_mask_from_kinds(const int8_t* kinds, int mask_heads, int S, int q_block, int kv_block, void** out) {
  return guarded([&] { *out = make_mask(bsa::block_mask_from_kinds(kinds, mask_heads, S, q_block, kv_block)); });
}

int bsa_mask_from_csr(const int32_t* indptr, const int32_t* indices, const int64_t* offsets, int mask_heads, int S,
                      int q_block, int kv_block, int detect_causal, void** out) {
  return guarded([&] {
    *out = make_mask(
        bsa::block_mask_from_csr(indptr, indices, offsets, mask_heads, S, q_block, kv_block, detect_causal != 0));
  });
}

// The same element mask with 64-row q-blocks merged into 128-row ones (bsa::merge_q_blocks).
int bsa_mask_merge_q(void* mask, void** out) {
  return guarded([&] { *out = make_mask(bsa::merge_q_blocks(static_cast<Mask*>(mask)->host)); });
}

// stats: entries, full, causal, partial, computed elements, kept elements (per mask head, summed), q_block.
int bsa_mask_stats(void* mask, int64_t* stats) {
  return guarded([&] {
    const auto& h = static_cast<Mask*>(mask)->host;
    stats[0] = h.n_entries();
    stats[1] = h.full_blocks;
    stats[2] = h.causal_blocks;
    stats[3] = h.partial_blocks;
    stats[4] = h.computed_elements;
    stats[5] = h.kept_elements;
    stats[6] = h.q_block;
  });
}

void bsa_mask_free(void* mask) { delete static_cast<Mask*>(mask); }

int bsa_wgmma_available() { return bsa::wgmma_available() ? 1 : 0; }
void bsa_set_wgmma_variant(int variant) { bsa::set_wgmma_desc_variant(variant); }

// dtype 0 fp16, 1 bf16; tiling: bsa::Tiling (0 = automatic).
int bsa_forward(void* mask, const void* q, const void* k, const void* v, void* o, int heads, int S, int D, int dtype,
                float scale, int tiling, void* stream) {
  return guarded([&] {
    bsa::ForwardArgs a;
    a.q = q;
    a.k = k;
    a.v = v;
    a.o = o;
    a.heads = heads;
    a.seq_len = S;
    a.head_dim = D;
    a.scale = scale;
    a.dtype = dtype == 1 ? bsa::DataType::bf16 : bsa::DataType::fp16;
    a.tiling = static_cast<bsa::Tiling>(tiling);
    bsa::forward(a, static_cast<Mask*>(mask)->dev->view(), static_cast<cudaStream_t>(stream));
  });
}

// gpu_ref's dense path: SGEMM (fp32, no TF32, alpha = scale) -> row softmax
// (causal optional) -> SGEMM. scores and probs: [heads, S, S] workspaces.
int ref_dense_fp32(const float* q, const float* k, const float* v, float* out, float* scores, float* probs, int heads,
                   int S, int D, float scale, int causal, void* stream) {
  return guarded([&] {
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    cublasHandle_t h = cublas_handle();
    CHECK_CUBLAS(cublasSetStream(h, st));
    const long long sd = static_cast<long long>(S) * D, ss = static_cast<long long>(S) * S;
    const float one = 1.f, zero = 0.f;
    CHECK_CUBLAS(cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, S, S, D, &scale, k, D, sd, q, D, sd, &zero,
                                           scores, S, ss, heads));
    launch_row_softmax<float>(scores, S, nullptr, nullptr, probs, heads, S, causal != 0, st);
    CHECK_CUBLAS(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, D, S, S, &one, v, D, sd, probs, S, ss, &zero,
                                           out, D, sd, heads));
  });
}

// rowptr [rows + 1], cols [nnz] (global columns): device pointers; q, k, v,
// out: [rows, D] fp32 device pointers (rows = heads * S).
int ref_sparse_create(const int* rowptr, const int* cols, long long nnz, int rows, int D, const float* q,
                      const float* k, const float* v, float* out, float scale, void* stream, void** plan_out) {
  return guarded([&] {
    if (nnz <= 0 || nnz >= (1ll << 31)) throw InputError("cuSPARSE path", "nnz must be in [1, 2^31)");
    auto p = std::make_unique<SparsePlan>();
    p->stream = static_cast<cudaStream_t>(stream);
    p->rowptr = rowptr;
    p->nnz = nnz;
    p->rows = rows;
    p->D = D;
    p->alpha = scale;
    p->out = out;
    CHECK_CUSPARSE(cusparseCreate(&p->handle));
    CHECK_CUSPARSE(cusparseSetStream(p->handle, p->stream));
    CHECK_CUDA(cudaMalloc(&p->scores, nnz * sizeof(float)));
    CHECK_CUDA(cudaMalloc(&p->probs, nnz * sizeof(float)));
    CHECK_CUSPARSE(cusparseCreateCsr(&p->c_scores, rows, rows, nnz, const_cast<int*>(rowptr), const_cast<int*>(cols),
                                     p->scores, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO,
                                     CUDA_R_32F));
    CHECK_CUSPARSE(cusparseCreateConstCsr(&p->a_probs, rows, rows, nnz, rowptr, cols, p->probs, CUSPARSE_INDEX_32I,
                                          CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
    CHECK_CUSPARSE(cusparseCreateConstDnMat(&p->dq, rows, D, D, q, CUDA_R_32F, CUSPARSE_ORDER_ROW));
    CHECK_CUSPARSE(cusparseCreateConstDnMat(&p->dv, rows, D, D, v, CUDA_R_32F, CUSPARSE_ORDER_ROW));
    CHECK_CUSPARSE(cusparseCreateDnMat(&p->dout, rows, D, D, out, CUDA_R_32F, CUSPARSE_ORDER_ROW));
    // K as B: first row-major transposed (gpu_ref's first choice), else column-major D x rows.
    const float zero = 0.f, one = 1.f;
    size_t bytes = 0;
    CHECK_CUSPARSE(cusparseCreateConstDnMat(&p->dk, rows, D, D, k, CUDA_R_32F, CUSPARSE_ORDER_ROW));
    p->op_k = CUSPARSE_OPERATION_TRANSPOSE;
    cusparseStatus_t s = cusparseSDDMM_bufferSize(p->handle, CUSPARSE_OPERATION_NON_TRANSPOSE, p->op_k, &p->alpha,
                                                  p->dq, p->dk, &zero, p->c_scores, CUDA_R_32F,
                                                  CUSPARSE_SDDMM_ALG_DEFAULT, &bytes);
    if (s == CUSPARSE_STATUS_SUCCESS) {
      CHECK_CUDA(cudaMalloc(&p->ws_sddmm, bytes ? bytes : 16));
      s = cusparseSDDMM(p->handle, CUSPARSE_OPERATION_NON_TRANSPOSE, p->op_k, &p->alpha, p->dq, p->dk, &zero,
                        p->c_scores, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, p->ws_sddmm);
    }
    if (s != CUSPARSE_STATUS_SUCCESS) {
      cusparseDestroyDnMat(p->dk);
      p->dk = nullptr;
      cudaFree(p->ws_sddmm);
      p->ws_sddmm = nullptr;
      CHECK_CUSPARSE(cusparseCreateConstDnMat(&p->dk, D, rows, D, k, CUDA_R_32F, CUSPARSE_ORDER_COL));
      p->op_k = CUSPARSE_OPERATION_NON_TRANSPOSE;
      CHECK_CUSPARSE(cusparseSDDMM_bufferSize(p->handle, CUSPARSE_OPERATION_NON_TRANSPOSE, p->op_k, &p->alpha, p->dq,
                                              p->dk, &zero, p->c_scores, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT,
                                              &bytes));
      CHECK_CUDA(cudaMalloc(&p->ws_sddmm, bytes ? bytes : 16));
    }
    CHECK_CUSPARSE(cusparseSpMM_bufferSize(p->handle, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                           CUSPARSE_OPERATION_NON_TRANSPOSE, &one, p->a_probs, p->dv, &zero, p->dout,
                                           CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
    CHECK_CUDA(cudaMalloc(&p->ws_spmm, bytes ? bytes : 16));
    CHECK_CUDA(cudaStreamSynchronize(p->stream));
    *plan_out = p.release();
  });
}

int ref_sparse_run(void* plan) {
  return guarded([&] {
    auto* p = static_cast<SparsePlan*>(plan);
    p->sddmm();
    p->rest();
  });
}

// 1 when K entered the SDDMM as row-major transposed, 0 as column-major.
int ref_sparse_layout(void* plan) { return static_cast<SparsePlan*>(plan)->op_k == CUSPARSE_OPERATION_TRANSPOSE; }

void ref_sparse_free(void* plan) { delete static_cast<SparsePlan*>(plan); }

}  // extern "C"
