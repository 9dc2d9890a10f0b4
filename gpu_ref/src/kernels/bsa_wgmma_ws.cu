// The warp-specialised wgmma kernel (tiling wg128_ws; sm_90a only), the
// FlashAttention-3 structure on the block-sparse mask of bsa_wgmma.cu:
//
//  * a CTA of 3 warpgroups per 128-row q-block: warpgroup 0 is the producer,
//    one of its threads loads Q once and then the K/V tiles of the q-block's
//    kv list with the bulk tensor copy engine (TMA, cp.async.bulk.tensor,
//    128-byte swizzle: the layout the other kernel builds by hand) into a
//    STAGES-deep ring of mbarriers (full: bytes landed; empty: all 8 consumer
//    warps are done with the stage). No CTA-wide barrier per tile. With each
//    tile it stages the tile's mask (TileMask, and a PARTIAL entry's bitmask
//    rows by bulk copy) and with each Q the work item's fields, so the
//    consumers read no mask from global memory.
//  * warpgroups 1 and 2 are consumers, 64 query rows each, on the same K/V
//    tiles. Each runs the software-pipelined loop (QK^T of tile t+1 issued
//    with PV of tile t, the softmax of t+1 while the PV runs) and the two
//    take turns on the tensor cores through two named barriers (ping-pong):
//    one issues its GEMMs while the other does its softmax.
//  * registers are moved from the producer to the consumers (setmaxnreg).
//  * wg128_wsp: the same kernel persistent (one CTA per SM taking q-blocks from a global counter);
//    kv blocks of 64 keys at head dim 64 go two to a 128-key tile (PAIRED).
// Masking, online softmax and the epilogue are those of bsa_wgmma.cu.
#include <algorithm>
#include <cstdint>
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
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
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
// `bytes` (a multiple of 16) from global memory into shared memory, completing on `bar`.
__device__ __forceinline__ void bulk_load(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
               "l"(reinterpret_cast<uint64_t>(src)), "r"(bytes), "r"(bar)
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
  static constexpr int kQBytes = kBM * D * static_cast<int>(sizeof(T));
  static constexpr int kBitsBytes = kBM * BN / 8;  // a tile's bitmask rows (of its PARTIAL entries)
  static constexpr int kSlotBytes = 32;            // a tile's TileMask
  // two Q buffers (the next q-block's Q loads while this one's output is staged in the other), the K/V ring with
  // each stage's bitmask rows and tile mask
  static constexpr size_t kSmem = 2 * static_cast<size_t>(kQBytes) +
                                  static_cast<size_t>(STAGES) * (2 * kTileBytes + kBitsBytes + kSlotBytes) +
                                  1024 /* alignment */ + 512 /* mbarriers, work-item slots */;
};

// A CTA walks work items (data head, q-block; work_item's order): with a grid of one CTA per item (wg128_ws,
// next_item null) item blockIdx.x alone; with one CTA per SM (wg128_wsp) blockIdx.x and then the next ones not
// yet taken (the counter next_item). The producer runs ahead into the next item (its Q into the other Q buffer,
// its K/V into the ring) while the consumers finish this one. K/V tiles are counted over the CTA's whole walk
// (ring stage and parity).
template <class T, int D, int BN, int STAGES, bool PAIRED>
__global__ void __launch_bounds__(384, 1)
    bsa_wgmma_ws_kernel(const __grid_constant__ CUtensorMap tmQ, const __grid_constant__ CUtensorMap tmK,
                        const __grid_constant__ CUtensorMap tmV, T* __restrict__ Og, int S, int heads,
                        float scale_log2, BlockMaskView mask, DescCfg dc, int* next_item) {
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
  auto sQ_u32 = [&](int buf) { return base_u32 + buf * C::kQBytes; };
  const uint32_t sK_u32 = base_u32 + 2 * C::kQBytes;
  const uint32_t sV_u32 = sK_u32 + STAGES * TILE_BYTES;
  const uint32_t sBits_u32 = sV_u32 + STAGES * TILE_BYTES;
  const uint32_t sSlot_u32 = sBits_u32 + STAGES * C::kBitsBytes;
  const uint32_t bar_u32 = sSlot_u32 + STAGES * C::kSlotBytes;  // full[STAGES], empty[STAGES], q_full[2], q_empty[2]
  auto at = [&](uint32_t u32) { return smem_raw + (u32 - raw_u32); };
  // Stage s's tile mask and bitmask rows (one part per kv block of the tile), written by the producer before
  // the stage's full barrier: the consumers read no mask from global memory.
  auto tile_slot = [&](int s) { return reinterpret_cast<TileMask*>(at(sSlot_u32 + s * C::kSlotBytes)); };
  constexpr int kParts = PAIRED ? 2 : 1, kPartBits = C::kBitsBytes / kParts;
  auto bits_u32 = [&](int s, int part) { return sBits_u32 + s * C::kBitsBytes + part * kPartBits; };
  auto full_bar = [&](int s) { return bar_u32 + 8u * s; };
  auto empty_bar = [&](int s) { return bar_u32 + 8u * (STAGES + s); };
  auto q_full_bar = [&](int b) { return bar_u32 + 8u * (2 * STAGES + b); };
  auto q_empty_bar = [&](int b) { return bar_u32 + 8u * (2 * STAGES + 2 + b); };
  // the work item whose Q is in buffer b (w < 0: the walk is over), written by the producer before q_full(b)
  struct Item {
    int w, h, q0, e_begin, e_end;
  };
  volatile Item* item_slot = reinterpret_cast<volatile Item*>(at(bar_u32 + 8u * (2 * STAGES + 4)));

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int nqb = (S + BM - 1) / BM;
  const int items = heads * nqb;
  static_assert(BN == 128 || !PAIRED, "a paired tile holds two kv blocks of 64 keys");  // else a tile = a kv block
  auto ntiles_of = [](int e_begin, int e_end) { return PAIRED ? (e_end - e_begin + 1) >> 1 : e_end - e_begin; };

  if (tid == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(full_bar(s), 1);
      mbar_init(empty_bar(s), 8);  // one arrival per consumer warp
    }
    for (int b = 0; b < 2; ++b) {
      mbar_init(q_full_bar(b), 1);
      mbar_init(q_empty_bar(b), 8);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp < 4) {
    // ---- producer ----
    // Registers: 168 per thread at launch. The consumers' increase must fit in what the producer gives back:
    // (168 - 32) x 128 >= (232 - 168) x 256. (240 for the consumers needs the producer at 24, where its
    // work-item loop spills; 32/240 waits forever in setmaxnreg.inc - seen as a hang on the H100.)
    asm volatile("setmaxnreg.dec.sync.aligned.u32 32;\n" ::: "memory");
    if (tid == 0) {
      // The next work item: the grid-stride one, or with next_item (wg128_wsp) the next not yet taken by any
      // CTA (greedy list scheduling in the mask's order). Every CTA's last fetch fails (>= items); the launch's
      // very last fetch returns items - 1 and resets the counter for the next launch.
      auto next_of = [&](int w) {
        if (!next_item) return w + static_cast<int>(gridDim.x);
        const int r = atomicAdd(next_item, 1);
        if (r == items - 1) atomicExch(next_item, 0);
        return r + static_cast<int>(gridDim.x);
      };
      int g = 0;  // K/V tiles loaded so far
      int w = blockIdx.x;
      for (int n = 0;; ++n, w = next_of(w)) {
        const int qbuf = n & 1;
        if (n >= 2) mbar_wait(q_empty_bar(qbuf), ((n >> 1) - 1) & 1);
        if (w >= items) {
          item_slot[qbuf].w = -1;
          mbar_arrive(q_full_bar(qbuf));
          break;
        }
        const auto [h, mq] = work_item(w, nqb, mask);
        const Item it{w, h, (mq % nqb) * BM, mask.row_ptr[mq], mask.row_ptr[mq + 1]};
        item_slot[qbuf].w = it.w;
        item_slot[qbuf].h = it.h;
        item_slot[qbuf].q0 = it.q0;
        item_slot[qbuf].e_begin = it.e_begin;
        item_slot[qbuf].e_end = it.e_end;
        mbar_expect_tx(q_full_bar(qbuf), C::kQBytes);
#pragma unroll
        for (int cb = 0; cb < D / 64; ++cb)
          tma_load_3d(sQ_u32(qbuf) + cb * BM * 128, &tmQ, q_full_bar(qbuf), cb * 64, it.q0, it.h);
        const int ntiles = ntiles_of(it.e_begin, it.e_end);
        for (int t = 0; t < ntiles; ++t, ++g) {
          const int st = g % STAGES;
          if (g >= STAGES) mbar_wait(empty_bar(st), ((g / STAGES) - 1) & 1);
          // the tile's keys: one kv block, or two 64-key ones (the second half repeats the first when the
          // q-block's list has an odd length: finite values, masked out)
          TileMask tm;
          if constexpr (PAIRED) {
            const int ea = it.e_begin + 2 * t;
            const bool has_b = ea + 1 < it.e_end;
            const int2 a = mask.entries[ea];
            tm = tile_mask_pair(a, has_b ? mask.entries[ea + 1] : a, has_b);
          } else {
            tm = tile_mask_of(mask.entries[it.e_begin + t], 0, BN, mask.kv_block);
          }
          *tile_slot(st) = tm;
          uint32_t bytes = 2 * TILE_BYTES;
#pragma unroll
          for (int part = 0; part < kParts; ++part) bytes += tm.kind[part] >= 0 ? kPartBits : 0;
          mbar_expect_tx(full_bar(st), bytes);
          constexpr int kRows = BN / kParts;
#pragma unroll
          for (int part = 0; part < kParts; ++part) {
            if (tm.kind[part] >= 0)
              bulk_load(bits_u32(st, part), entry_bits<BM>(mask, tm.kind[part], 0), kPartBits, full_bar(st));
#pragma unroll
            for (int cb = 0; cb < D / 64; ++cb) {
              const int off = st * TILE_BYTES + cb * BN * 128 + part * kRows * 128;
              tma_load_3d(sK_u32 + off, &tmK, full_bar(st), cb * 64, tm.kv0[part], it.h);
              tma_load_3d(sV_u32 + off, &tmV, full_bar(st), cb * 64, tm.kv0[part], it.h);
            }
          }
        }
      }
    }
    return;
  }

  // ---- consumers ----
  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
  const int cw = warp - 4;      // consumer warp 0..7
  const int wgi = cw >> 2;      // consumer warpgroup 0/1: rows 64 * wgi ..
  const int wrow0 = cw * 16;    // this warp's first row in the q block

  // Ping-pong: warpgroup w issues its GEMMs after named_sync(1 + w) and then hands the turn over with
  // named_arrive(2 - w): one token passed back and forth over the CTA's whole walk (both warpgroups take
  // ntiles + 1 turns per item, so every item ends with warpgroup 1's hand-over to warpgroup 0). Warpgroup 1
  // gives warpgroup 0 the first turn, and warpgroup 0 takes the last hand-over after the walk.
  auto my_turn = [&]() { named_sync(1 + wgi); };
  auto pass_turn = [&]() { named_arrive(2 - wgi); };
  if (wgi == 1) named_arrive(1);

  int g0 = 0;  // K/V tiles consumed before this item
  for (int n = 0;; ++n) {
    const int qbuf = n & 1;
    mbar_wait(q_full_bar(qbuf), (n >> 1) & 1);
    if (item_slot[qbuf].w < 0) break;
    const int h = item_slot[qbuf].h, q0 = item_slot[qbuf].q0;
    const int ntiles = ntiles_of(item_slot[qbuf].e_begin, item_slot[qbuf].e_end);
    const uint32_t sQ = sQ_u32(qbuf);
    auto stage = [&](int t) { return (g0 + t) % STAGES; };
    auto phase = [&](int t) { return ((g0 + t) / STAGES) & 1; };

    float o[DT * 4];
#pragma unroll
    for (int i = 0; i < DT * 4; ++i) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    auto issue_qk = [&](float (&sacc)[NT * 4], int st) {
      issue_qk_tile<T, D, BM, BN>(sacc, sQ, sK_u32 + st * TILE_BYTES, wgi, dc);
    };
    auto issue_pv = [&](const uint32_t (&p)[BN / 16][4], int st) {
      issue_pv_tile<T, D, BN>(o, p, sV_u32 + st * TILE_BYTES, dc);
    };
    // tile t's mask, read once its stage is full
    auto tile_mask = [&](int t) { return *tile_slot(stage(t)); };
    auto softmax_tile = [&](float (&sacc)[NT * 4], int t, const TileMask& tm, float (&alpha)[2],
                            uint32_t (&p)[BN / 16][4]) {
      auto bits = [&](int part, int i) { return reinterpret_cast<const uint32_t*>(at(bits_u32(stage(t), part)))[i]; };
      mask_softmax_tile<T, BM, BN, PAIRED>(sacc, tm, [&](int i) { return bits(0, i); }, [&](int i) { return bits(1, i); },
                                           mask.kv_block / 32, S, q0, wrow0, lane, scale_log2, m, l, alpha, p);
    };
    auto rescale_o = [&](const float (&alpha)[2]) { rescale_rows<DT>(o, alpha); };
    // Frees a stage for the producer. Called before the next tile's wait rather than right after the PV's
    // wgmma_wait: there ptxas serialised the wgmma (C7513).
    auto release = [&](int st) { mbar_arrive_if(empty_bar(st), lane == 0); };

    uint32_t pa[BN / 16][4];
    if (ntiles > 0) {
      mbar_wait(full_bar(stage(0)), phase(0));
      const TileMask tm = tile_mask(0);
      float s[NT * 4];
      my_turn();
      wgmma_fence();
      issue_qk(s, stage(0));
      pass_turn();
      wgmma_wait<0>();
      fence_regs(s);
      float alpha[2];
      softmax_tile(s, 0, tm, alpha, pa);
    }
    for (int t = 0; t + 1 < ntiles; ++t) {
      if (t > 0) release(stage(t - 1));  // the PV of tile t-1 completed in the last iteration
      mbar_wait(full_bar(stage(t + 1)), phase(t + 1));
      const TileMask tm = tile_mask(t + 1);
      float s[NT * 4];
      my_turn();
      fence_regs(o);
      wgmma_fence();
      issue_qk(s, stage(t + 1));
      issue_pv(pa, stage(t));
      pass_turn();
      wgmma_wait<1>();  // QK^T of t+1 done, PV of t may still run
      fence_regs(s);
      float alpha[2];
      uint32_t pn[BN / 16][4];
      softmax_tile(s, t + 1, tm, alpha, pn);
      wgmma_wait<0>();
      fence_regs(o);
      keep_regs(pa);
      rescale_o(alpha);
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk)
#pragma unroll
        for (int i = 0; i < 4; ++i) pa[kk][i] = pn[kk][i];
    }
    if (ntiles > 1) release(stage(ntiles - 2));
    if (ntiles > 0) {
      my_turn();
      fence_regs(o);
      wgmma_fence();
      issue_pv(pa, stage(ntiles - 1));
      pass_turn();
      wgmma_wait<0>();
      fence_regs(o);
      keep_regs(pa);
      release(stage(ntiles - 1));
    }

    // ---- epilogue: this warp's 16 rows of Q in shared memory (read only by this warpgroup's finished wgmma)
    // become the staging of its output rows; then the Q buffer goes back to the producer (the proxy fence
    // orders these generic-proxy accesses before its next bulk copy into the buffer) ----
    store_output_rows<T, D, BM>(o, l, reinterpret_cast<T*>(smem_raw + (sQ - raw_u32)),
                                Og + static_cast<size_t>(h) * S * D, wrow0, lane, q0, S);
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncwarp();
    mbar_arrive_if(q_empty_bar(qbuf), lane == 0);
    g0 += ntiles;
  }
  if (wgi == 0) named_sync(1);  // warpgroup 1's last hand-over
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

// wg128_wsp's work-item counter (0 between launches: each launch's last fetch resets it). One per process, so
// wg128_wsp launches must not run concurrently (on several streams).
__device__ int g_next_item = 0;

int* next_item_counter() {
  static int* p = nullptr;
  if (!p) CHECK_CUDA(cudaGetSymbolAddress(reinterpret_cast<void**>(&p), g_next_item));
  return p;
}

int sm_count() {
  static int n = 0;
  if (!n) {
    int dev = 0;
    CHECK_CUDA(cudaGetDevice(&dev));
    CHECK_CUDA(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  }
  return n;
}

template <class T, int D, int BN, int STAGES, bool PAIRED>
void launch_ws(const ForwardArgs& a, const BlockMaskView& mask, bool persistent, int variant, cudaStream_t stream) {
  using C = WsCfg<T, D, BN, STAGES>;
  auto kernel = bsa_wgmma_ws_kernel<T, D, BN, STAGES, PAIRED>;
  static bool attr_set = false;
  if (!attr_set) {
    CHECK_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(C::kSmem)));
    attr_set = true;
  }
  const int nqb = (a.seq_len + C::kBM - 1) / C::kBM;
  long long blocks = static_cast<long long>(a.heads) * nqb;
  if (blocks <= 0) return;
  if (blocks > INT32_MAX) throw InputError("block-sparse attention", "too many q-blocks for wg128_ws");
  if (persistent) blocks = std::min<long long>(blocks, sm_count());
  const CUtensorMap mq = make_map<T>(a.q, a.heads, a.seq_len, D, C::kBM);
  const CUtensorMap mk = make_map<T>(a.k, a.heads, a.seq_len, D, PAIRED ? BN / 2 : BN);
  const CUtensorMap mv = make_map<T>(a.v, a.heads, a.seq_len, D, PAIRED ? BN / 2 : BN);
  kernel<<<static_cast<unsigned>(blocks), C::kThreads, C::kSmem, stream>>>(
      mq, mk, mv, static_cast<T*>(a.o), a.seq_len, a.heads, a.scale * 1.4426950408889634f, mask,
      desc_cfg(variant, BN), persistent ? next_item_counter() : nullptr);
  CHECK_LAUNCH(bsa_wgmma_ws_kernel);
}

// K/V ring stages: as many BN-key stages as fit in ~200 KB of shared memory beside the two Q buffers, at most 8
// (head dim 64: 5 of 128 keys; head dim 128: 2 of 128, 4 of 64).
template <class T, int D, int BN>
constexpr int ws_stages() {
  constexpr int n = (200 * 1024 - 2 * 128 * D * static_cast<int>(sizeof(T))) / (2 * BN * D * static_cast<int>(sizeof(T)));
  return n < 8 ? n : 8;
}

// A tile per kv block of 128 keys. Kv blocks of 64: at head dim 64 two side by side in one 128-key tile (paired:
// the per-tile cost of 64-key tiles - barriers, softmax bookkeeping, short MMAs - made them 9-20 % slower on the
// local-stride masks, H100), at head dim 128 one per tile (there pairing was 16-20 % slower: 2 stages of 128 keys
// fit beside Q instead of 4 of 64).
template <class T, int D>
void launch_ws_dim(const ForwardArgs& a, const BlockMaskView& mask, bool persistent, int variant,
                   cudaStream_t stream) {
  if (mask.kv_block == 128)
    launch_ws<T, D, 128, ws_stages<T, D, 128>(), false>(a, mask, persistent, variant, stream);
  else if constexpr (D == 64)
    launch_ws<T, D, 128, ws_stages<T, D, 128>(), true>(a, mask, persistent, variant, stream);
  else
    launch_ws<T, D, 64, ws_stages<T, D, 64>(), false>(a, mask, persistent, variant, stream);
}
}  // namespace

}  // namespace wg

void launch_wgmma_ws(const ForwardArgs& a, const BlockMaskView& mask, bool persistent, int variant,
                     cudaStream_t stream) {
  if (reinterpret_cast<uintptr_t>(a.q) % 16 || reinterpret_cast<uintptr_t>(a.k) % 16 ||
      reinterpret_cast<uintptr_t>(a.v) % 16)
    throw InputError("block-sparse attention", "wg128_ws/wg128_wsp need 16-byte aligned q, k, v");
  wg::with_type_and_dim(a, [&](auto type, auto dim) {
    wg::launch_ws_dim<decltype(type), decltype(dim)::value>(a, mask, persistent, variant, stream);
  });
}

}  // namespace bsa
}  // namespace gpu_ref
