#pragma once
// fp32 <-> fp16 / bf16 conversion of device arrays (the fused kernel's inputs
// and output when the source is a dump's fp32 tensors).
#include <cstddef>

#include <cuda_runtime.h>

#include "kernels/block_sparse_attn.h"

namespace gpu_ref {
namespace bsa {

void convert_from_f32(const float* in, void* out, size_t n, DataType t, cudaStream_t stream);
void convert_to_f32(const void* in, float* out, size_t n, DataType t, cudaStream_t stream);
inline size_t dtype_bytes(DataType) { return 2; }

}  // namespace bsa
}  // namespace gpu_ref
