// The warp-specialised wgmma kernel (tiling wg128_ws; sm_90a only), the
// FlashAttention-3 structure on the block-sparse mask of bsa_wgmma.cu:
//
//  * a CTA of 3 warpgroups per 128-row q-block: warpgroup 0 is the producer,
//    one of its threads loads Q once and then the K/V tiles of the q-block's
//    kv list with the bulk tensor copy engine (TMA, cp.async.bulk.tensor,
//    128-byte swizzle: the layout the other kernel builds by hand) into a
//    STAGES-deep ring of mbarriers (full: bytes landed; empty: all 8 consumer
//    warps are done with the stage). No CTA-wide barrier per tile.
//  * warpgroups 1 and 2 are consumers, 64 query rows each, on the same K/V
//    tiles. Each runs the software-pipelined loop (QK^T of tile t+1 issued
//    with PV of tile t, the softmax of t+1 while the PV runs) and the two
//    take turns on the tensor cores through two named barriers (ping-pong):
//    one issues its GEMMs while the other does its softmax.
//  * registers are moved from the producer to the consumers (setmaxnreg).
// Masking, online softmax and the epilogue are those of bsa_wgmma.cu.
#include <string>
#include <type_traits>

#include <cuda.h>  // CUtensorMap and its enums (types only: the encoder comes from the runtime's entry point)
#include <cudaTypedefs.h>

#include "kernels/bsa_launch.cuh"
#include "kernels/bsa_wgmma_common.cuh"

namespace gpu_ref {
namespace bsa {
namespace wg {

#ifndef GPU_REF_NO_WGMMA
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// Arrives when `pred`, as a predicated instruction: a branch here makes ptxas serialise the wgmma.
__device__ __forceinline__ void mbar_arrive_if(uint32_t bar, bool pred) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %1, 0;\n@p mbarrier.arrive.shared::cta.b64 _, [%0];\n}\n" ::"r"(bar),
               "r"(static_cast<int>(pred))
               : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  // the spin loop inside one asm block (its labels are local to the braces): no loop-carried register that
  // ptxas would see defined inside a wgmma pipeline stage
  asm volatile(
      "{\n.reg .pred p;\nWAIT:\nmbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n@p bra DONE;\nbra WAIT;\nDONE:\n}\n" ::
          "r"(bar),
      "r"(parity)
      : "memory");
}
// 3-d tile {c0, c1, c2} of the tensor map into shared memory, completing on `bar`.
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1,
                                            int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n" ::
          "r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}
// Named barriers 1 and 2 (0 is __syncthreads) between the two consumer warpgroups.
__device__ __forceinline__ void named_sync(int id) { asm volatile("bar.sync %0, 256;\n" ::"r"(id) : "memory"); }
__device__ __forceinline__ void named_arrive(int id) { asm volatile("bar.arrive %0, 256;\n" ::"r"(id) : "memory"); }
#endif

template <class T, int D, int BN, int STAGES>
struct WsCfg {
  static constexpr int kBM = 128;
  static constexpr int kThreads = 384;
  static constexpr int kTileBytes = BN * D * static_cast<int>(sizeof(T));
  static constexpr size_t kSmem = (static_cast<size_t>(kBM) * D + 2 * static_cast<size_t>(STAGES) * BN * D) * sizeof(T) +
                                  1024 /* alignment */ + 256 /* mbarriers */;
};

template <class T, int D, int BN, int STAGES>
__global__ void __launch_bounds__(384, 1)
    bsa_wgmma_ws_kernel(const __grid_constant__ CUtensorMap tmQ, const __grid_constant__ CUtensorMap tmK,
                        const __grid_constant__ CUtensorMap tmV, T* __restrict__ Og, int S, int heads,
                        float scale_log2, BlockMaskView mask, DescCfg dc) {
#ifdef GPU_REF_NO_WGMMA
  __trap();
#else
  using C = WsCfg<T, D, BN, STAGES>;
  constexpr int BM = C::kBM;
  constexpr int NT = BN / 8;
  constexpr int DT = D / 8;
  constexpr int TILE_BYTES = C::kTileBytes;

  extern __shared__ unsigned char smem_raw[];
  const uint32_t raw_u32 = smem_u32(smem_raw);
  const uint32_t base_u32 = (raw_u32 + 1023u) & ~1023u;
  T* sQ = reinterpret_cast<T*>(smem_raw + (base_u32 - raw_u32));
  const uint32_t sQ_u32 = base_u32;
  const uint32_t sK_u32 = sQ_u32 + BM * D * static_cast<int>(sizeof(T));
  const uint32_t sV_u32 = sK_u32 + STAGES * TILE_BYTES;
  const uint32_t bar_u32 = sV_u32 + STAGES * TILE_BYTES;  // full[STAGES], empty[STAGES], q
  auto full_bar = [&](int s) { return bar_u32 + 8u * s; };
  auto empty_bar = [&](int s) { return bar_u32 + 8u * (STAGES + s); };
  const uint32_t q_bar = bar_u32 + 8u * (2 * STAGES);

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int nqb = (S + BM - 1) / BM;
  const int reps = heads / mask.mask_heads;
  const int item = blockIdx.x / reps, rep = blockIdx.x % reps;
  const int mq = mask.order ? mask.order[item] : item;
  const int mh = mq / nqb, qb = mq % nqb;
  const int h = rep * mask.mask_heads + mh;
  const int q0 = qb * BM;
  const int e_begin = mask.row_ptr[mq];
  const int sub_shift = (BN == 128 || mask.kv_block == BN) ? 0 : 1;
  const int ntiles = (mask.row_ptr[mq + 1] - e_begin) << sub_shift;

  if (tid == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(full_bar(s), 1);
      mbar_init(empty_bar(s), 8);  // one arrival per consumer warp
    }
    mbar_init(q_bar, 1);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp < 4) {
    // ---- producer ----
    asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
    if (tid == 0) {
      mbar_expect_tx(q_bar, BM * D * static_cast<int>(sizeof(T)));
#pragma unroll
      for (int cb = 0; cb < D / 64; ++cb) tma_load_3d(sQ_u32 + cb * BM * 128, &tmQ, q_bar, cb * 64, q0, h);
      for (int t = 0; t < ntiles; ++t) {
        const int st = t % STAGES;
        if (t >= STAGES) mbar_wait(empty_bar(st), ((t / STAGES) - 1) & 1);
        const int2 ent = mask.entries[e_begin + (t >> sub_shift)];
        const int kv0 = ent.x * mask.kv_block + (t & sub_shift) * BN;
        mbar_expect_tx(full_bar(st), 2 * TILE_BYTES);
#pragma unroll
        for (int cb = 0; cb < D / 64; ++cb) {
          tma_load_3d(sK_u32 + st * TILE_BYTES + cb * BN * 128, &tmK, full_bar(st), cb * 64, kv0, h);
          tma_load_3d(sV_u32 + st * TILE_BYTES + cb * BN * 128, &tmV, full_bar(st), cb * 64, kv0, h);
        }
      }
    }
    return;
  }

  // ---- consumers ----
  asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");
  const int cw = warp - 4;      // consumer warp 0..7
  const int wgi = cw >> 2;      // consumer warpgroup 0/1: rows 64 * wgi ..
  const int wrow0 = cw * 16;    // this warp's first row in the q block
  T* O = Og + static_cast<size_t>(h) * S * D;

  float o[DT * 4];
#pragma unroll
  for (int i = 0; i < DT * 4; ++i) o[i] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

  auto issue_qk = [&](float (&sacc)[NT * 4], int stage) {
    issue_qk_tile<T, D, BM, BN>(sacc, sQ_u32, sK_u32 + stage * TILE_BYTES, wgi, dc);
  };
  auto issue_pv = [&](const uint32_t (&p)[BN / 16][4], int stage) {
    issue_pv_tile<T, D, BN>(o, p, sV_u32 + stage * TILE_BYTES, dc);
  };
  auto softmax_tile = [&](float (&sacc)[NT * 4], int t, int2 ent, float (&alpha)[2], uint32_t (&p)[BN / 16][4]) {
    mask_softmax_tile<T, BM, BN>(sacc, ent, t & sub_shift, mask, S, q0, wrow0, lane, scale_log2, m, l, alpha, p);
  };
  auto rescale_o = [&](const float (&alpha)[2]) { rescale_rows<DT>(o, alpha); };
  // Ping-pong: warpgroup w issues its GEMMs after named_sync(1 + w) and then hands the turn over with
  // named_arrive(2 - w). Warpgroup 1 gives warpgroup 0 the first turn; both run ntiles + 1 turns (ntiles > 0),
  // so warpgroup 0 takes one more sync at the end to consume warpgroup 1's last arrival.
  auto my_turn = [&]() { named_sync(1 + wgi); };
  auto pass_turn = [&]() { named_arrive(2 - wgi); };
  // Frees a stage for the producer. Called before the next tile's wait rather than right after the PV's
  // wgmma_wait: there ptxas serialised the wgmma (C7513).
  auto release = [&](int stage) {
    mbar_arrive_if(empty_bar(stage), lane == 0);
  };
  if (wgi == 1) named_arrive(1);

  mbar_wait(q_bar, 0);
  uint32_t pa[BN / 16][4];
  if (ntiles > 0) {
    mbar_wait(full_bar(0), 0);
    const int2 ent = mask.entries[e_begin];
    float s[NT * 4];
    my_turn();
    wgmma_fence();
    issue_qk(s, 0);
    pass_turn();
    wgmma_wait<0>();
    fence_regs(s);
    float alpha[2];
    softmax_tile(s, 0, ent, alpha, pa);
  }
  for (int t = 0; t + 1 < ntiles; ++t) {
    const int st_n = (t + 1) % STAGES;
    if (t > 0) release((t - 1) % STAGES);  // the PV of tile t-1 completed in the last iteration
    const int2 ent = mask.entries[e_begin + ((t + 1) >> sub_shift)];
    mbar_wait(full_bar(st_n), ((t + 1) / STAGES) & 1);
    float s[NT * 4];
    my_turn();
    fence_regs(o);
    wgmma_fence();
    issue_qk(s, st_n);
    issue_pv(pa, t % STAGES);
    pass_turn();
    wgmma_wait<1>();  // QK^T of t+1 done, PV of t may still run
    fence_regs(s);
    float alpha[2];
    uint32_t pn[BN / 16][4];
    softmax_tile(s, t + 1, ent, alpha, pn);
    wgmma_wait<0>();
    fence_regs(o);
    keep_regs(pa);
    rescale_o(alpha);
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk)
#pragma unroll
      for (int i = 0; i < 4; ++i) pa[kk][i] = pn[kk][i];
  }
  if (ntiles > 1) release((ntiles - 2) % STAGES);
  if (ntiles > 0) {
    my_turn();
    fence_regs(o);
    wgmma_fence();
    issue_pv(pa, (ntiles - 1) % STAGES);
    pass_turn();
    wgmma_wait<0>();
    fence_regs(o);
    keep_regs(pa);
    release((ntiles - 1) % STAGES);
  }
  if (wgi == 0) named_sync(1);  // warpgroup 1's last hand-over

  // ---- epilogue: this warp's 16 rows of Q in shared memory (read only by this warpgroup's finished wgmma)
  // become the staging of its output rows ----
  store_output_rows<T, D, BM>(o, l, sQ, O, wrow0, lane, q0, S);
#endif  // GPU_REF_NO_WGMMA
}

namespace {
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  if (!fn) {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    CHECK_CUDA(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q));
    if (q != cudaDriverEntryPointSuccess || !p) throw GpuError("bsa::forward", "cuTensorMapEncodeTiled not found");
    fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }
  return fn;
}

// [heads][S][D] as a 3-d tensor (D innermost), tiles of `rows` x 64 elements, 128-byte swizzle; rows past S
// read as zeros.
template <class T>
CUtensorMap make_map(const void* base, int heads, int S, int D, int rows) {
  CUtensorMap map;
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(D), static_cast<cuuint64_t>(S), static_cast<cuuint64_t>(heads)};
  const cuuint64_t strides[2] = {static_cast<cuuint64_t>(D) * sizeof(T), static_cast<cuuint64_t>(S) * D * sizeof(T)};
  const cuuint32_t box[3] = {64, static_cast<cuuint32_t>(rows), 1};
  const cuuint32_t estr[3] = {1, 1, 1};
  const CUtensorMapDataType dt =
      sizeof(T) == 2 && std::is_same<T, __half>::value ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  const CUresult r = tensor_map_encoder()(&map, dt, 3, const_cast<void*>(base), dims, strides, box, estr,
                                          CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                          CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) throw GpuError("bsa::forward", "cuTensorMapEncodeTiled failed (" + std::to_string(r) + ")");
  return map;
}

template <class T, int D, int BN, int STAGES>
void launch_ws(const ForwardArgs& a, const BlockMaskView& mask, int variant, cudaStream_t stream) {
  using C = WsCfg<T, D, BN, STAGES>;
  auto kernel = bsa_wgmma_ws_kernel<T, D, BN, STAGES>;
  static bool attr_set = false;
  if (!attr_set) {
    CHECK_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(C::kSmem)));
    attr_set = true;
  }
  const int nqb = (a.seq_len + C::kBM - 1) / C::kBM;
  const long long blocks = static_cast<long long>(a.heads) * nqb;
  if (blocks <= 0) return;
  const CUtensorMap mq = make_map<T>(a.q, a.heads, a.seq_len, D, C::kBM);
  const CUtensorMap mk = make_map<T>(a.k, a.heads, a.seq_len, D, BN);
  const CUtensorMap mv = make_map<T>(a.v, a.heads, a.seq_len, D, BN);
  kernel<<<static_cast<unsigned>(blocks), C::kThreads, C::kSmem, stream>>>(
      mq, mk, mv, static_cast<T*>(a.o), a.seq_len, a.heads, a.scale * 1.4426950408889634f, mask,
      desc_cfg(variant, BN));
  CHECK_LAUNCH(bsa_wgmma_ws_kernel);
}

// 128-key tiles for kv blocks of 128, else 64; as many stages as fit beside Q (2-4).
template <class T, int D>
void launch_ws_dim(const ForwardArgs& a, const BlockMaskView& mask, int variant, cudaStream_t stream) {
  if (mask.kv_block == 128)
    launch_ws<T, D, 128, D == 128 ? 2 : 3>(a, mask, variant, stream);
  else
    launch_ws<T, D, 64, D == 128 ? 3 : 4>(a, mask, variant, stream);
}
}  // namespace

}  // namespace wg

void launch_wgmma_ws(const ForwardArgs& a, const BlockMaskView& mask, int variant, cudaStream_t stream) {
  if (reinterpret_cast<uintptr_t>(a.q) % 16 || reinterpret_cast<uintptr_t>(a.k) % 16 ||
      reinterpret_cast<uintptr_t>(a.v) % 16)
    throw InputError("block-sparse attention", "wg128_ws needs 16-byte aligned q, k, v");
  const bool h = a.dtype == DataType::fp16;
  if (a.head_dim == 64) {
    h ? wg::launch_ws_dim<__half, 64>(a, mask, variant, stream)
      : wg::launch_ws_dim<__nv_bfloat16, 64>(a, mask, variant, stream);
  } else if (a.head_dim == 128) {
    h ? wg::launch_ws_dim<__half, 128>(a, mask, variant, stream)
      : wg::launch_ws_dim<__nv_bfloat16, 128>(a, mask, variant, stream);
  } else {
    throw InputError("block-sparse attention", "the wgmma kernel takes head_dim 64 or 128");
  }
}

}  // namespace bsa
}  // namespace gpu_ref
