#include "common/softmax.cuh"

#include "common/error.h"
#include "common/warp.cuh"

namespace gpu_ref {

namespace {

template <class T>
__global__ void row_softmax_kernel(const T* __restrict__ in, int64_t ld_in, const float* __restrict__ head_factor,
                                   float* __restrict__ scores_out, float* __restrict__ probs_out, int64_t rows, int S,
                                   bool causal) {
  const int64_t r = warp_row();
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int64_t h = r / S;
  const int i = static_cast<int>(r % S);
  const int n = causal ? i + 1 : S;
  const T* row = in + r * ld_in;
  const bool scaled = head_factor != nullptr;
  const float f = scaled ? head_factor[h] : 1.f;
  auto x_at = [&](int j) { return scaled ? static_cast<float>(row[j]) * f : static_cast<float>(row[j]); };

  float m = -INFINITY;
  for (int j = lane; j < n; j += kWarp) m = fmaxf(m, x_at(j));
  m = warp_max(m);
  float z = 0.f;
  for (int j = lane; j < n; j += kWarp) z += expf(x_at(j) - m);
  z = warp_sum(z);
  float* srow = scores_out ? scores_out + r * S : nullptr;
  float* prow = probs_out + r * S;
  for (int j = lane; j < S; j += kWarp) {
    const float x = x_at(j);
    if (srow) srow[j] = x;
    prow[j] = j < n ? expf(x - m) / z : 0.f;
  }
}

__global__ void csr_softmax_kernel(const int* __restrict__ rowptr, const float* __restrict__ scores,
                                   float* __restrict__ probs, int64_t rows) {
  const int64_t r = warp_row();
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int b = rowptr[r], e = rowptr[r + 1];
  if (b >= e) return;
  float m = -INFINITY;
  for (int k = b + lane; k < e; k += kWarp) m = fmaxf(m, scores[k]);
  m = warp_max(m);
  float z = 0.f;
  for (int k = b + lane; k < e; k += kWarp) z += expf(scores[k] - m);
  z = warp_sum(z);
  for (int k = b + lane; k < e; k += kWarp) probs[k] = expf(scores[k] - m) / z;
}

}  // namespace

template <class T>
void launch_row_softmax(const T* in, int64_t ld_in, const float* head_factor, float* scores_out, float* probs_out,
                        int64_t heads, int S, bool causal, cudaStream_t stream) {
  const int64_t rows = heads * S;
  row_softmax_kernel<T><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream>>>(in, ld_in, head_factor, scores_out,
                                                                                probs_out, rows, S, causal);
  CHECK_LAUNCH(row_softmax_kernel);
}

template void launch_row_softmax<float>(const float*, int64_t, const float*, float*, float*, int64_t, int, bool,
                                        cudaStream_t);
template void launch_row_softmax<int32_t>(const int32_t*, int64_t, const float*, float*, float*, int64_t, int, bool,
                                          cudaStream_t);

void launch_csr_softmax(const int* rowptr, const float* scores, float* probs, int64_t rows, cudaStream_t stream) {
  csr_softmax_kernel<<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream>>>(rowptr, scores, probs, rows);
  CHECK_LAUNCH(csr_softmax_kernel);
}

}  // namespace gpu_ref
