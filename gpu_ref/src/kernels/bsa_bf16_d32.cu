// Instantiations of the fused block-sparse attention kernel: bf16, head_dim 32.
#include "kernels/bsa_launch.cuh"

namespace gpu_ref {
namespace bsa {
void launch_bf16_d32(const ForwardArgs& a, const BlockMaskView& mask, Tiling t, cudaStream_t stream) {
  detail::launch_tiling<__nv_bfloat16, 32>(a, mask, t, stream);
}
}  // namespace bsa
}  // namespace gpu_ref
