#include "common/csr.cuh"

#include <cub/device/device_scan.cuh>

#include "common/error.h"
#include "common/warp.cuh"

namespace gpu_ref {

namespace {

template <class P>
__device__ __forceinline__ bool kept(P p, double threshold) { return static_cast<double>(p) > threshold; }

template <class P>
__global__ void threshold_count_kernel(const P* __restrict__ probs, int64_t rows, int S, ThresholdRule rule,
                                       int* __restrict__ counts, int* __restrict__ argmax) {
  const int64_t r = warp_row();
  if (r == 0 && threadIdx.x == 0) counts[rows] = 0;
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int i = static_cast<int>(r % S);
  const int n = rule.causal ? i + 1 : S;
  const P* row = probs + r * S;
  int cnt = 0;
  P best = -INFINITY;
  int best_j = 0x7fffffff;
  for (int j = lane; j < n; j += kWarp) {
    const P p = row[j];
    cnt += kept(p, rule.threshold);
    if (p > best) best = p, best_j = j;  // strict: first index of this lane's maximum
  }
  cnt = warp_sum_int(cnt);
  for (int o = kWarp / 2; o > 0; o /= 2) {
    const P ob = __shfl_xor_sync(kFullMask, best, o);
    const int oj = __shfl_xor_sync(kFullMask, best_j, o);
    if (ob > best || (ob == best && oj < best_j)) best = ob, best_j = oj;
  }
  if (lane == 0) {
    counts[r] = (cnt == 0 && rule.keep_row_max) ? 1 : cnt;
    argmax[r] = best_j == 0x7fffffff ? 0 : best_j;
  }
}

template <class P>
__global__ void threshold_fill_kernel(const P* __restrict__ probs, const int* __restrict__ rowptr,
                                      const int* __restrict__ argmax, int64_t rows, int S, ThresholdRule rule,
                                      int* __restrict__ local_cols, int* __restrict__ global_cols) {
  const int64_t r = warp_row();
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int64_t h = r / S;
  const int i = static_cast<int>(r % S);
  const int n = rule.causal ? i + 1 : S;
  const P* row = probs + r * S;
  const int base = rowptr[r];
  const int count = rowptr[r + 1] - base;
  const unsigned lanes_below = (1u << lane) - 1u;
  int written = 0;
  for (int j0 = 0; j0 < n; j0 += kWarp) {  // n is the same for the whole warp: the ballot is safe
    const int j = j0 + lane;
    const bool keep = j < n && kept(row[j], rule.threshold);
    const unsigned ballot = __ballot_sync(kFullMask, keep);
    if (keep) {
      const int pos = base + written + __popc(ballot & lanes_below);
      local_cols[pos] = j;
      global_cols[pos] = static_cast<int>(h * S + j);
    }
    written += __popc(ballot);
  }
  if (written == 0 && count == 1 && lane == 0) {  // keep_row_max
    local_cols[base] = argmax[r];
    global_cols[base] = static_cast<int>(h * S + argmax[r]);
  }
}

__global__ void head_indptr_kernel(const int* __restrict__ rowptr, int64_t heads, int S, int* __restrict__ indptr,
                                   int64_t* __restrict__ offsets) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < heads * (S + 1)) {
    const int64_t h = t / (S + 1), i = t % (S + 1);
    indptr[t] = rowptr[h * S + i] - rowptr[h * S];
  }
  if (t <= heads) offsets[t] = rowptr[t * S];
}

template <class P>
void threshold_count(const P* probs, int64_t heads, int S, const ThresholdRule& rule, int* counts, int* argmax,
                     cudaStream_t stream) {
  const int64_t rows = heads * S;
  threshold_count_kernel<P><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream>>>(probs, rows, S, rule, counts,
                                                                                    argmax);
  CHECK_LAUNCH(threshold_count_kernel);
}

template <class P>
void threshold_fill(const P* probs, const int* rowptr, const int* argmax, int64_t heads, int S,
                    const ThresholdRule& rule, int* local_cols, int* global_cols, cudaStream_t stream) {
  const int64_t rows = heads * S;
  threshold_fill_kernel<P><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream>>>(probs, rowptr, argmax, rows, S,
                                                                                   rule, local_cols, global_cols);
  CHECK_LAUNCH(threshold_fill_kernel);
}

}  // namespace

void launch_threshold_count(const float* probs, int64_t heads, int S, const ThresholdRule& rule, int* counts,
                            int* argmax, cudaStream_t stream) {
  threshold_count(probs, heads, S, rule, counts, argmax, stream);
}

void launch_threshold_count(const double* probs, int64_t heads, int S, const ThresholdRule& rule, int* counts,
                            int* argmax, cudaStream_t stream) {
  threshold_count(probs, heads, S, rule, counts, argmax, stream);
}

size_t exclusive_scan_temp_bytes(int64_t n) {
  size_t bytes = 0;
  CHECK_CUDA(cub::DeviceScan::ExclusiveSum(nullptr, bytes, static_cast<const int*>(nullptr),
                                           static_cast<int*>(nullptr), n));
  return bytes;
}

void exclusive_scan(void* temp, size_t temp_bytes, const int* in, int* out, int64_t n, cudaStream_t stream) {
  CHECK_CUDA(cub::DeviceScan::ExclusiveSum(temp, temp_bytes, in, out, n, stream));
}

void launch_threshold_fill(const float* probs, const int* rowptr, const int* argmax, int64_t heads, int S,
                           const ThresholdRule& rule, int* local_cols, int* global_cols, cudaStream_t stream) {
  threshold_fill(probs, rowptr, argmax, heads, S, rule, local_cols, global_cols, stream);
}

void launch_threshold_fill(const double* probs, const int* rowptr, const int* argmax, int64_t heads, int S,
                           const ThresholdRule& rule, int* local_cols, int* global_cols, cudaStream_t stream) {
  threshold_fill(probs, rowptr, argmax, heads, S, rule, local_cols, global_cols, stream);
}

void launch_head_indptr(const int* rowptr, int64_t heads, int S, int* indptr, int64_t* offsets, cudaStream_t stream) {
  const int64_t n = heads * (S + 1);
  const int threads = 256;
  head_indptr_kernel<<<static_cast<unsigned>((n + threads - 1) / threads), threads, 0, stream>>>(rowptr, heads, S,
                                                                                                 indptr, offsets);
  CHECK_LAUNCH(head_indptr_kernel);
}

}  // namespace gpu_ref
