#pragma once
// fp32 softmax kernels shared by the algorithm pieces (one warp per row,
// max subtracted, expf, plain division: the simulator's fp32 formula).
#include <cstdint>

#include <cuda_runtime.h>

namespace gpu_ref {

// Dense rows: heads * S rows of S keys; row r is query r % S of head r / S and
// its element j is in[r * ld_in + j]. x = float(in) * head_factor[head]
// (head_factor may be null: x = float(in)). Writes x to scores_out (may be
// null) and softmax(x) to probs_out, both [heads * S, S]; with causal, keys
// j > i are left out of the softmax and get probability 0.
template <class T>
void launch_row_softmax(const T* in, int64_t ld_in, const float* head_factor, float* scores_out, float* probs_out,
                        int64_t heads, int S, bool causal, cudaStream_t stream);

// CSR rows: probs[k] = softmax over row r's entries rowptr[r]..rowptr[r+1]
// of scores[k]. Empty rows write nothing.
void launch_csr_softmax(const int* rowptr, const float* scores, float* probs, int64_t rows, cudaStream_t stream);

}  // namespace gpu_ref
