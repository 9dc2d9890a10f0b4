// The fused block-sparse attention kernel on Hopper's warpgroup MMA (wgmma,
// sm_90a only: this file is compiled for compute_90a / sm_90a alone, see
// CMakeLists.txt). Same interface, block masks and online softmax as the
// mma.sync kernel (bsa_kernel.cuh); the difference is the matrix unit:
//
//  * a warpgroup (4 warps, 128 threads) owns 64 query rows; a CTA has 1 or 2
//    warpgroups (q-block 64 or 128);
//  * S = Q K^T is one chain of D/16 wgmma.m64n64k16 with both operands in
//    shared memory (Q and K K-major); O += P V is 4 wgmma.m64nDk16
//    with P from registers (the S accumulator re-packed as A fragments) and V
//    from shared memory, MN-major (transposed B);
//  * shared tiles use the canonical 128-byte-swizzle layout: a [rows][D] tile is
//    stored as D/64 column blocks of [rows][64 elements], the 16-byte chunk c
//    of row r at chunk c ^ (r % 8); each block is 1024-byte aligned;
//  * K/V tiles of 64 (or 128) keys stream through a 2- or 3-stage cp.async
//    ring; a fence.proxy.async makes the copies visible to the wgmma (async
//    proxy).
//
// The accumulator layout of wgmma.m64nN (per warp: rows 16w + lane/4 (+8),
// columns 8j + 2(lane%4) + {0,1} in registers 4j..4j+3) equals the mma.sync
// m16n8 C layout, so masking and softmax are the same code as there.
#include <string>

#include "kernels/bsa_wgmma_common.cuh"

namespace gpu_ref {
namespace bsa {
namespace wg {


template <class T, int D, int NWG, int BN, int STAGES>
struct WCfg {
  static constexpr int kBM = 64 * NWG;
  static constexpr int kThreads = 128 * NWG;
  static constexpr size_t kSmem =
      (static_cast<size_t>(kBM) * D + 2 * static_cast<size_t>(STAGES) * BN * D) * sizeof(T) + 1024;
};

// NWG warpgroups (64 query rows each), BN keys per kv tile (64, or 128 for
// kv blocks of 128), STAGES-deep cp.async ring, MINB CTAs per SM asked of the
// register allocator, PIPE: software-pipelined loop (QK^T of the next tile
// issued with the PV of this one; STAGES >= 3).
template <class T, int D, int NWG, int BN, int STAGES, int MINB, bool PIPE>
__global__ void __launch_bounds__(128 * NWG, MINB)
    bsa_wgmma_kernel(const T* __restrict__ Qg, const T* __restrict__ Kg, const T* __restrict__ Vg, T* __restrict__ Og,
                     int S, int heads, float scale_log2, BlockMaskView mask, DescCfg dc) {
#ifdef GPU_REF_NO_WGMMA
  __trap();
#else
  using C = WCfg<T, D, NWG, BN, STAGES>;
  constexpr int BM = C::kBM, THREADS = C::kThreads;
  constexpr int CH = D / 8;
  constexpr int NT = BN / 8;
  constexpr int DT = D / 8;
  constexpr int TILE_BYTES = BN * D * static_cast<int>(sizeof(T));

  extern __shared__ unsigned char smem_raw[];
  const uint32_t raw_u32 = smem_u32(smem_raw);
  const uint32_t base_u32 = (raw_u32 + 1023u) & ~1023u;  // 128B-swizzle atoms repeat every 1024 bytes
  T* sQ = reinterpret_cast<T*>(smem_raw + (base_u32 - raw_u32));
  const uint32_t sQ_u32 = base_u32;
  const uint32_t sK_u32 = sQ_u32 + BM * D * static_cast<int>(sizeof(T));
  const uint32_t sV_u32 = sK_u32 + STAGES * TILE_BYTES;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wgi = warp >> 2;  // warpgroup
  const int nqb = (S + BM - 1) / BM;
  const auto [h, mq] = work_item(blockIdx.x, nqb, mask);
  const int qb = mq % nqb;
  const size_t head_off = static_cast<size_t>(h) * S * D;
  const T* Q = Qg + head_off;
  const T* K = Kg + head_off;
  const T* V = Vg + head_off;
  T* O = Og + head_off;
  const int q0 = qb * BM;
  const int e_begin = mask.row_ptr[mq];
  // kv tiles per kv block, 1 or 2 (the launcher checks kv_block >= BN; kv_block is 64 or 128): as a shift, so
  // that the per-tile entry index is no integer division (always 0 with 128-key tiles)
  const int sub_shift = (BN == 128 || mask.kv_block == BN) ? 0 : 1;
  const int ntiles = (mask.row_ptr[mq + 1] - e_begin) << sub_shift;

  for (int c = tid; c < BM * CH; c += THREADS) {
    const int r = c / CH, ch = c % CH;
    const bool ok = q0 + r < S;
    cp_async16(sQ_u32 + sw128<D>(BM, r, ch) * static_cast<int>(sizeof(T)),
               Q + static_cast<size_t>(ok ? q0 + r : 0) * D + ch * 8, ok);
  }
  auto load_kv = [&](int t, int stage) {
    const int2 ent = mask.entries[e_begin + (t >> sub_shift)];
    const int kv0 = ent.x * mask.kv_block + (t & sub_shift) * BN;
    const uint32_t dK = sK_u32 + stage * TILE_BYTES, dV = sV_u32 + stage * TILE_BYTES;
#pragma unroll
    for (int c = tid; c < BN * CH; c += THREADS) {
      const int r = c / CH, ch = c % CH;
      const bool ok = kv0 + r < S;
      const size_t src = static_cast<size_t>(ok ? kv0 + r : 0) * D + ch * 8;
      const uint32_t off = sw128<D>(BN, r, ch) * static_cast<int>(sizeof(T));
      cp_async16(dK + off, K + src, ok);
      cp_async16(dV + off, V + src, ok);
    }
  };
#pragma unroll
  for (int st = 0; st < STAGES - 1; ++st) {
    if (st < ntiles) load_kv(st, st);
    cp_async_commit();  // group st (group 0 also holds Q)
  }

  float o[DT * 4];
#pragma unroll
  for (int i = 0; i < DT * 4; ++i) o[i] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  const int wrow0 = warp * 16;  // this warp's first row in the q block

  auto issue_qk = [&](float (&sacc)[NT * 4], int stage) {
    issue_qk_tile<T, D, BM, BN>(sacc, sQ_u32, sK_u32 + stage * TILE_BYTES, wgi, dc);
  };
  auto issue_pv = [&](const uint32_t (&p)[BN / 16][4], int stage) {
    issue_pv_tile<T, D, BN>(o, p, sV_u32 + stage * TILE_BYTES, dc);
  };
  // Mask + online softmax of tile t's scores (in place: s becomes P, fp32); updates m and l, returns the
  // rescale factors of O for the two rows of this thread, and packs P into A fragments.
  // `ent` is tile t's mask entry, loaded by the caller before the QK^T so that its latency hides behind it.
  auto softmax_tile = [&](float (&sacc)[NT * 4], int t, int2 ent, float (&alpha)[2], uint32_t (&p)[BN / 16][4]) {
    const TileMask tm = tile_mask_of(ent, t & sub_shift, BN, mask.kv_block);
    auto bits = [&](int i) { return __ldg(entry_bits<BM>(mask, tm.kind[0], tm.col0[0]) + i); };
    mask_softmax_tile<T, BM, BN>(sacc, tm, bits, bits, mask.kv_block / 32, S, q0, wrow0, lane, scale_log2, m, l, alpha,
                                 p);
  };
  auto rescale_o = [&](const float (&alpha)[2]) { rescale_rows<DT>(o, alpha); };

  if constexpr (!PIPE) {
    for (int t = 0; t < ntiles; ++t) {
      cp_async_wait<STAGES - 2>();  // tile t (and Q) landed
      fence_proxy_async();          // the cp.async writes (generic proxy) -> wgmma reads (async proxy)
      __syncthreads();              // ... for all threads; stage (t-1) % STAGES is free again
      if (t + STAGES - 1 < ntiles) load_kv(t + STAGES - 1, (t + STAGES - 1) % STAGES);
      cp_async_commit();
      const int stage = t % STAGES;
      const int2 ent = mask.entries[e_begin + (t >> sub_shift)];
      float s[NT * 4];
      wgmma_fence();
      issue_qk(s, stage);
      wgmma_wait<0>();
      fence_regs(s);
      float alpha[2];
      uint32_t pa[BN / 16][4];
      softmax_tile(s, t, ent, alpha, pa);
      rescale_o(alpha);
      fence_regs(o);
      wgmma_fence();
      issue_pv(pa, stage);
      wgmma_wait<0>();
      fence_regs(o);
      keep_regs(pa);  // the wgmma read pa asynchronously: its registers stay untouched until here
    }
  } else {
    // Software-pipelined (STAGES >= 3): the QK^T of tile t+1 and the PV of tile t are issued back to back;
    // the softmax of tile t+1 runs while the PV of tile t is still on the tensor cores.
    static_assert(!PIPE || STAGES >= 3, "the pipelined loop needs 3 stages");
    uint32_t pa[BN / 16][4];
    if (ntiles > 0) {
      cp_async_wait<STAGES - 2>();  // tile 0 and Q
      fence_proxy_async();
      __syncthreads();
      const int2 ent = mask.entries[e_begin];
      float s[NT * 4];
      wgmma_fence();
      issue_qk(s, 0);
      wgmma_wait<0>();
      fence_regs(s);
      float alpha[2];
      softmax_tile(s, 0, ent, alpha, pa);  // O is 0: no rescale
    }
    for (int t = 0; t + 1 < ntiles; ++t) {
      // groups committed so far: tiles 0 .. t+STAGES-2; wait for tile t+1
      cp_async_wait<STAGES - 3>();
      fence_proxy_async();
      __syncthreads();  // every warpgroup finished tile t-1 (its PV): stage (t-1) % STAGES is free
      if (t + STAGES - 1 < ntiles) load_kv(t + STAGES - 1, (t + STAGES - 1) % STAGES);
      cp_async_commit();
      const int2 ent = mask.entries[e_begin + ((t + 1) >> sub_shift)];
      float s[NT * 4];
      fence_regs(o);
      wgmma_fence();
      issue_qk(s, (t + 1) % STAGES);
      issue_pv(pa, t % STAGES);
      wgmma_wait<1>();  // the QK^T group is done, the PV group may still run
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
    if (ntiles > 0) {  // the last tile: its PV alone
      fence_regs(o);
      wgmma_fence();
      issue_pv(pa, (ntiles - 1) % STAGES);
      wgmma_wait<0>();
      fence_regs(o);
      keep_regs(pa);
    }
  }

  // ---- epilogue ----
  cp_async_wait<0>();
  __syncthreads();
  store_output_rows<T, D, BM>(o, l, sQ, O, wrow0, lane, q0, S);
#endif  // GPU_REF_NO_WGMMA
}

template <class T, int D, int NWG, int BN, int STAGES, int MINB, bool PIPE = false>
void launch(const ForwardArgs& a, const BlockMaskView& mask, int variant, cudaStream_t stream) {
  using C = WCfg<T, D, NWG, BN, STAGES>;
  if (mask.kv_block < BN) throw InputError("block-sparse attention", "this wgmma tiling needs kv_block 128");
  auto kernel = bsa_wgmma_kernel<T, D, NWG, BN, STAGES, MINB, PIPE>;
  static bool attr_set = false;
  if (!attr_set) {
    CHECK_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(C::kSmem)));
    attr_set = true;
  }
  const int nqb = (a.seq_len + C::kBM - 1) / C::kBM;
  const long long blocks = static_cast<long long>(a.heads) * nqb;
  if (blocks <= 0) return;
  kernel<<<static_cast<unsigned>(blocks), C::kThreads, C::kSmem, stream>>>(
      static_cast<const T*>(a.q), static_cast<const T*>(a.k), static_cast<const T*>(a.v), static_cast<T*>(a.o),
      a.seq_len, a.heads, a.scale * 1.4426950408889634f, mask, desc_cfg(variant, BN));
  CHECK_LAUNCH(bsa_wgmma_kernel);
}

template <class T, int D>
void launch_cfg(const ForwardArgs& a, const BlockMaskView& mask, Tiling t, int variant, cudaStream_t stream) {
  switch (t) {
    case Tiling::wg64: launch<T, D, 1, 64, 2, 1>(a, mask, variant, stream); break;
    case Tiling::wg64_s3: launch<T, D, 1, 64, 3, 2>(a, mask, variant, stream); break;
    case Tiling::wg64_n128: launch<T, D, 1, 128, 2, 2>(a, mask, variant, stream); break;
    case Tiling::wg128: launch<T, D, 2, 64, 2, 1>(a, mask, variant, stream); break;
    case Tiling::wg128_m2: launch<T, D, 2, 64, 2, 2>(a, mask, variant, stream); break;
    case Tiling::wg128_s3: launch<T, D, 2, 64, 3, 1>(a, mask, variant, stream); break;
    case Tiling::wg128_n128: launch<T, D, 2, 128, 2, 1>(a, mask, variant, stream); break;
    case Tiling::wg64_p: launch<T, D, 1, 64, 3, 2, true>(a, mask, variant, stream); break;
    case Tiling::wg128_p: launch<T, D, 2, 64, 3, 1, true>(a, mask, variant, stream); break;
    case Tiling::wg128_n128_s3: launch<T, D, 2, 128, 3, 1>(a, mask, variant, stream); break;
    case Tiling::wg128_n128_p: launch<T, D, 2, 128, 3, 1, true>(a, mask, variant, stream); break;
    case Tiling::wg128_n128_m2:
    case Tiling::wg64_n128_m3:
    case Tiling::wg64_m4:
      // 2-4 CTAs/SM: only at head dim 64 (at 128, S and O do not fit the register cap)
      if constexpr (D == 64) {
        if (t == Tiling::wg128_n128_m2)
          launch<T, D, 2, 128, 2, 2>(a, mask, variant, stream);
        else if (t == Tiling::wg64_n128_m3)
          launch<T, D, 1, 128, 2, 3>(a, mask, variant, stream);
        else
          launch<T, D, 1, 64, 2, 4>(a, mask, variant, stream);
      } else {
        throw InputError("block-sparse attention", std::string(tiling_name(t)) + " needs head_dim 64");
      }
      break;
    default: throw GpuError("bsa::forward", "internal: not a wgmma tiling");
  }
}

}  // namespace wg

void launch_wgmma(const ForwardArgs& a, const BlockMaskView& mask, Tiling t, int variant, cudaStream_t stream) {
  wg::with_type_and_dim(a, [&](auto type, auto dim) {
    wg::launch_cfg<decltype(type), decltype(dim)::value>(a, mask, t, variant, stream);
  });
}

}  // namespace bsa
}  // namespace gpu_ref
