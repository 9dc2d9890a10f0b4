#pragma once
// Launch of one instantiation of the fused kernel; included by the
// per-(dtype, head_dim) files bsa_<dtype>_d<D>.cu, which the dispatcher in
// block_sparse_attn.cu calls.
#include "common/error.h"
#include "kernels/bsa_kernel.cuh"

namespace gpu_ref {
namespace bsa {
namespace detail {

template <class T, int D, int BM, int NW, int STAGES>
void launch_cfg(const ForwardArgs& a, const BlockMaskView& mask, cudaStream_t stream) {
  using C = Cfg<T, D, BM, NW, STAGES>;
  auto kernel = bsa_fwd_kernel<T, D, BM, NW, STAGES>;
  static bool attr_set = false;  // once per instantiation (> 48 KiB of dynamic shared memory)
  if (!attr_set) {
    CHECK_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(C::kSmem)));
    attr_set = true;
  }
  const int nqb = (a.seq_len + BM - 1) / BM;
  const long long blocks = static_cast<long long>(a.heads) * nqb;
  if (blocks <= 0) return;
  const float scale_log2 = a.scale * 1.4426950408889634f;
  kernel<<<static_cast<unsigned>(blocks), C::kThreads, C::kSmem, stream>>>(
      static_cast<const T*>(a.q), static_cast<const T*>(a.k), static_cast<const T*>(a.v), static_cast<T*>(a.o),
      a.seq_len, a.heads, scale_log2, mask);
  CHECK_LAUNCH(bsa_fwd_kernel);
}

template <class T, int D>
void launch_tiling(const ForwardArgs& a, const BlockMaskView& mask, Tiling t, cudaStream_t stream) {
  switch (t) {
    case Tiling::q64_w4: launch_cfg<T, D, 64, 4, 2>(a, mask, stream); break;
    case Tiling::q64_w4_s3: launch_cfg<T, D, 64, 4, 3>(a, mask, stream); break;
    case Tiling::q128_w8: launch_cfg<T, D, 128, 8, 2>(a, mask, stream); break;
    case Tiling::q128_w4: launch_cfg<T, D, 128, 4, 2>(a, mask, stream); break;
    case Tiling::q64_w2: launch_cfg<T, D, 64, 2, 2>(a, mask, stream); break;
    default: throw GpuError("bsa::forward", "internal: unresolved tiling");
  }
}

}  // namespace detail

// One function per (dtype, head_dim), defined in bsa_<dtype>_d<D>.cu.
#define GPU_REF_BSA_DECLARE(NAME) \
  void NAME(const ForwardArgs& a, const BlockMaskView& mask, Tiling t, cudaStream_t stream);
GPU_REF_BSA_DECLARE(launch_fp16_d32)
GPU_REF_BSA_DECLARE(launch_fp16_d64)
GPU_REF_BSA_DECLARE(launch_fp16_d128)
GPU_REF_BSA_DECLARE(launch_bf16_d32)
GPU_REF_BSA_DECLARE(launch_bf16_d64)
GPU_REF_BSA_DECLARE(launch_bf16_d128)
#undef GPU_REF_BSA_DECLARE
// bsa_wgmma.cu (sm_90a): the wg* tilings, head_dim 64 or 128.
void launch_wgmma(const ForwardArgs& a, const BlockMaskView& mask, Tiling t, int variant, cudaStream_t stream);
// bsa_wgmma_ws.cu (sm_90a): wg128_ws, the warp-specialised kernel (TMA producer, ping-pong consumers).
void launch_wgmma_ws(const ForwardArgs& a, const BlockMaskView& mask, bool persistent, int variant,
                     cudaStream_t stream);

}  // namespace bsa
}  // namespace gpu_ref
