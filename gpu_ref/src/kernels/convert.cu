#include "kernels/convert.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/error.h"

namespace gpu_ref {
namespace bsa {

namespace {

__device__ __forceinline__ void to(float x, __half& y) { y = __float2half_rn(x); }
__device__ __forceinline__ void to(float x, __nv_bfloat16& y) { y = __float2bfloat16_rn(x); }
__device__ __forceinline__ float from(__half x) { return __half2float(x); }
__device__ __forceinline__ float from(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
__global__ void from_f32_kernel(const float* __restrict__ in, T* __restrict__ out, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    to(in[i], out[i]);
}

template <class T>
__global__ void to_f32_kernel(const T* __restrict__ in, float* __restrict__ out, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = from(in[i]);
}

unsigned grid(size_t n) {
  const size_t b = (n + 255) / 256;
  return static_cast<unsigned>(b < 4096 ? (b ? b : 1) : 4096);
}

}  // namespace

void convert_from_f32(const float* in, void* out, size_t n, DataType t, cudaStream_t stream) {
  if (t == DataType::fp16)
    from_f32_kernel<<<grid(n), 256, 0, stream>>>(in, static_cast<__half*>(out), n);
  else
    from_f32_kernel<<<grid(n), 256, 0, stream>>>(in, static_cast<__nv_bfloat16*>(out), n);
  CHECK_LAUNCH(from_f32_kernel);
}

void convert_to_f32(const void* in, float* out, size_t n, DataType t, cudaStream_t stream) {
  if (t == DataType::fp16)
    to_f32_kernel<<<grid(n), 256, 0, stream>>>(static_cast<const __half*>(in), out, n);
  else
    to_f32_kernel<<<grid(n), 256, 0, stream>>>(static_cast<const __nv_bfloat16*>(in), out, n);
  CHECK_LAUNCH(to_f32_kernel);
}

}  // namespace bsa
}  // namespace gpu_ref
