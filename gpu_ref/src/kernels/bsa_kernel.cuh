#pragma once
// The fused block-sparse attention kernel (see block_sparse_attn.h). Included
// by the per-(dtype, head_dim) instantiation files bsa_*.cu.
//
// Per CTA: one (head, q-block) of BM rows; NW warps, each owning ROWS_W =
// BM / NW query rows (MI = ROWS_W / 16 mma row tiles). The kv side is walked
// in tiles of BN = 64 keys taken from the q-block's entry list.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 .row.col, 16-bit operands):
//   A 16x16: a0 (g, 2c..2c+1)  a1 (g+8, 2c..)  a2 (g, 2c+8..)  a3 (g+8, 2c+8..)
//   B 16x8 : b0 (k = 2c..2c+1, n = g)  b1 (k = 2c+8.., n = g)
//   C 16x8 : c0,c1 (g, 2c..2c+1)  c2,c3 (g+8, 2c..)
// with g = lane / 4, c = lane % 4. The C tile of S for keys j0..j0+15 (two n8
// tiles) is exactly the A fragment of P for the PV product's k-step j0.
//
// Shared memory rows are D elements (D/8 chunks of 16 bytes); chunk c of row
// r is stored at chunk c ^ f(r) (XOR swizzle) so that the 8 row addresses of
// each ldmatrix phase and the 16-byte cp.async writes hit distinct banks.
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/block_sparse_attn.h"

namespace gpu_ref {
namespace bsa {
namespace detail {

constexpr int kBN = 64;  // keys per kv tile

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy global -> shared; zero-fills when !pred.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool pred) {
  const int n = pred ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

template <class T>
struct Mma;

template <>
struct Mma<__half> {
  static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};

template <>
struct Mma<__nv_bfloat16> {
  static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};

__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Element offset of chunk `ch` (8 elements) of row `r` in a swizzled [rows][D] tile.
template <int D>
__device__ __forceinline__ int swz(int r, int ch) {
  constexpr int CH = D / 8;
  if constexpr (CH >= 8) {
    return r * D + ((ch ^ (r & 7)) << 3);
  } else {  // D = 32: 4 chunks (64 bytes) a row, two rows per 128 bytes
    return r * D + ((ch ^ ((r >> 1) & 3)) << 3);
  }
}

// Precomputed per-thread offsets for ldmatrix addresses: a thread reads rows
// R + r_lo and chunks C + c_lo with R a multiple of 16 and C even, both known at
// compile time after unrolling, and r_lo < 16, c_lo < 2 its own. The swizzle
// term depends on r_lo only, and C's low bits take few values, so the offset is
// a compile-time constant plus one of NB per-thread bases.
template <int D>
struct SwzBase {
  static constexpr int kM = (D / 8 >= 8) ? 7 : 3;
  static constexpr int kNB = (kM + 1) / 2;
  int b[kNB];
  __device__ __forceinline__ SwzBase(int r_lo, int c_lo) {
    const int f = (D / 8 >= 8) ? (r_lo & 7) : ((r_lo >> 1) & 3);
#pragma unroll
    for (int j = 0; j < kNB; ++j) b[j] = r_lo * D + ((((2 * j) | c_lo) ^ f) << 3);
  }
  // Element offset of (row R + r_lo, chunk C + c_lo); equals swz<D>(R + r_lo, C + c_lo).
  __device__ __forceinline__ int at(int R, int C) const { return R * D + ((C & ~kM) << 3) + b[(C & kM) >> 1]; }
};

template <class T, int D, int BM, int NW, int STAGES>
struct Cfg {
  static constexpr int kThreads = NW * 32;
  static constexpr int kRowsW = BM / NW;
  static constexpr int kMI = kRowsW / 16;
  static constexpr bool kQReg = kMI == 1;  // Q fragments live in registers (else re-read from shared)
  static constexpr size_t kSmem = (static_cast<size_t>(BM) * D + 2 * static_cast<size_t>(STAGES) * kBN * D) * sizeof(T);
  static_assert(kRowsW % 16 == 0, "16 rows per mma tile");
  static_assert(D % 32 == 0, "head_dim 32, 64 or 128");
};

template <class T, int D, int BM, int NW, int STAGES>
__global__ void __launch_bounds__(NW * 32) bsa_fwd_kernel(const T* __restrict__ Qg, const T* __restrict__ Kg,
                                                          const T* __restrict__ Vg, T* __restrict__ Og, int S,
                                                          int heads, float scale_log2, BlockMaskView mask) {
  using C = Cfg<T, D, BM, NW, STAGES>;
  using M = Mma<T>;
  constexpr int MI = C::kMI, ROWS_W = C::kRowsW, THREADS = C::kThreads;
  constexpr int CH = D / 8;      // 16-byte chunks per row
  constexpr int KD = D / 16;     // k-steps of QK^T
  constexpr int NT = kBN / 8;    // n8 tiles of S
  constexpr int DT = D / 8;      // n8 tiles of O

  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + BM * D;
  T* sV = sK + STAGES * kBN * D;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int nqb = (S + BM - 1) / BM;
  const auto [h, mq] = work_item(blockIdx.x, nqb, mask);  // data head; mask_head * nqb + q block
  const int qb = mq % nqb;
  const size_t head_off = static_cast<size_t>(h) * S * D;
  const T* Q = Qg + head_off;
  const T* K = Kg + head_off;
  const T* V = Vg + head_off;
  T* O = Og + head_off;
  const int q0 = qb * BM;
  const int e_begin = mask.row_ptr[mq];
  const int sub = mask.kv_block / kBN;  // kv tiles per kv block: 1 or 2
  const int ntiles = (mask.row_ptr[mq + 1] - e_begin) * sub;
  const int words = mask.kv_block / 32;  // bitmask words per row

  // ---- async loads ----
  {
    for (int c = tid; c < BM * CH; c += THREADS) {
      const int r = c / CH, ch = c % CH;
      const bool ok = q0 + r < S;
      cp_async16(sQ + swz<D>(r, ch), Q + static_cast<size_t>(ok ? q0 + r : 0) * D + ch * 8, ok);
    }
  }
  auto load_kv = [&](int t, int stage) {
    const int2 ent = mask.entries[e_begin + t / sub];
    const int kv0 = ent.x * mask.kv_block + (t % sub) * kBN;
    T* dK = sK + stage * kBN * D;
    T* dV = sV + stage * kBN * D;
#pragma unroll
    for (int c = tid; c < kBN * CH; c += THREADS) {
      const int r = c / CH, ch = c % CH;
      const bool ok = kv0 + r < S;
      const size_t src = static_cast<size_t>(ok ? kv0 + r : 0) * D + ch * 8;
      cp_async16(dK + swz<D>(r, ch), K + src, ok);
      cp_async16(dV + swz<D>(r, ch), V + src, ok);
    }
  };
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < ntiles) load_kv(s, s);
    cp_async_commit();  // group s (group 0 also holds Q); empty groups keep the count uniform
  }

  float o[MI][DT][4];
  float m[MI][2], l[MI][2];
#pragma unroll
  for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int i = 0; i < 4; ++i) o[mi][dt][i] = 0.f;
    m[mi][0] = m[mi][1] = -INFINITY;
    l[mi][0] = l[mi][1] = 0.f;
  }
  uint32_t qf[C::kQReg ? MI : 1][C::kQReg ? KD : 1][4];
  const int wrow0 = warp * ROWS_W;

  const SwzBase<D> q_off(lane & 15, lane >> 4);                               // A fragments of Q
  const SwzBase<D> k_off((lane & 7) + ((lane >> 4) << 3), (lane >> 3) & 1);  // B fragments of K
  const SwzBase<D> v_off((lane & 7) + (((lane >> 3) & 1) << 3), lane >> 4);  // B fragments of V (trans)
  const uint32_t sQ_u32 = smem_u32(sQ), sK_u32 = smem_u32(sK), sV_u32 = smem_u32(sV);
  auto load_q_frag = [&](uint32_t (&f)[4], int mi, int kk) {
    ldmatrix_x4(f, sQ_u32 + q_off.at(wrow0 + mi * 16, kk * 2) * static_cast<int>(sizeof(T)));
  };

  for (int t = 0; t < ntiles; ++t) {
    cp_async_wait<STAGES - 2>();  // tile t (and Q) landed, for this thread's copies
    __syncthreads();              // ... and everyone's; stage (t-1) % STAGES is free again
    if constexpr (C::kQReg) {
      if (t == 0) {
#pragma unroll
        for (int mi = 0; mi < MI; ++mi)
#pragma unroll
          for (int kk = 0; kk < KD; ++kk) load_q_frag(qf[mi][kk], mi, kk);
      }
    }
    {
      const int tn = t + STAGES - 1;
      if (tn < ntiles) load_kv(tn, tn % STAGES);
      cp_async_commit();
    }
    const int stage = t % STAGES;
    const uint32_t k_st = sK_u32 + stage * kBN * D * static_cast<int>(sizeof(T));
    const uint32_t v_st = sV_u32 + stage * kBN * D * static_cast<int>(sizeof(T));

    // ---- S = Q K^T (raw scores, fp32) ----
    float s[MI][NT][4];
#pragma unroll
    for (int mi = 0; mi < MI; ++mi)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) s[mi][nt][i] = 0.f;
#pragma unroll
    for (int kk = 0; kk < KD; ++kk) {
      uint32_t qa[MI][4];
      if constexpr (!C::kQReg) {
#pragma unroll
        for (int mi = 0; mi < MI; ++mi) load_q_frag(qa[mi], mi, kk);
      }
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        uint32_t b[4];
        ldmatrix_x4(b, k_st + k_off.at(np * 16, kk * 2) * static_cast<int>(sizeof(T)));
#pragma unroll
        for (int mi = 0; mi < MI; ++mi) {
          if constexpr (C::kQReg) {
            M::run(s[mi][2 * np], qf[mi][kk], b[0], b[1]);
            M::run(s[mi][2 * np + 1], qf[mi][kk], b[2], b[3]);
          } else {
            M::run(s[mi][2 * np], qa[mi], b[0], b[1]);
            M::run(s[mi][2 * np + 1], qa[mi], b[2], b[3]);
          }
        }
      }
    }

    // ---- mask (CAUSAL / PARTIAL blocks, ragged last block) ----
    const int2 ent = mask.entries[e_begin + t / sub];
    const int tsub = t % sub;
    const int kv0 = ent.x * mask.kv_block + tsub * kBN;
    if (ent.y != kFull || kv0 + kBN > S) {
#pragma unroll
      for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
        for (int hh = 0; hh < 2; ++hh) {
          const int rl = wrow0 + mi * 16 + (lane >> 2) + hh * 8;  // row within the q block
          const int gr = q0 + rl;
          uint32_t w0 = 0xffffffffu, w1 = 0xffffffffu;
          if (ent.y >= 0) {
            const uint32_t* bm = mask.bitmasks + (static_cast<size_t>(ent.y) * BM + rl) * words + tsub * 2;
            w0 = __ldg(bm);
            w1 = __ldg(bm + 1);
          }
#pragma unroll
          for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
            for (int j = 0; j < 2; ++j) {
              const int col = nt * 8 + (lane & 3) * 2 + j;  // 0..63 within the tile
              const int gc = kv0 + col;
              bool keep = gc < S;
              if (ent.y == kCausal) keep = keep && gc <= gr;
              const uint32_t w = col < 32 ? w0 : w1;
              keep = keep && ((w >> (col & 31)) & 1u);
              if (!keep) s[mi][nt][hh * 2 + j] = -INFINITY;
            }
          }
        }
      }
    }

    // ---- online softmax (base 2, scale folded in) ----
#pragma unroll
    for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        float rmax = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) rmax = fmaxf(rmax, fmaxf(s[mi][nt][hh * 2], s[mi][nt][hh * 2 + 1]));
        rmax = fmaxf(rmax, __shfl_xor_sync(0xffffffffu, rmax, 1));
        rmax = fmaxf(rmax, __shfl_xor_sync(0xffffffffu, rmax, 2));
        const float m_old = m[mi][hh];
        const float m_new = fmaxf(m_old, rmax * scale_log2);
        const float m_use = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing kept so far
        const float alpha = fast_exp2(m_old - m_use);           // 0 when m_old = -inf
        m[mi][hh] = m_new;
        float rsum = 0.f;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            const float p = fast_exp2(fmaf(s[mi][nt][hh * 2 + j], scale_log2, -m_use));
            s[mi][nt][hh * 2 + j] = p;
            rsum += p;
          }
        }
        l[mi][hh] = l[mi][hh] * alpha + rsum;  // per-thread partial sum; reduced over the quad at the end
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          o[mi][dt][hh * 2] *= alpha;
          o[mi][dt][hh * 2 + 1] *= alpha;
        }
      }
    }

    // ---- O += P V ----
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      uint32_t pa[MI][4];
#pragma unroll
      for (int mi = 0; mi < MI; ++mi) {
        pa[mi][0] = M::pack(s[mi][2 * kk][0], s[mi][2 * kk][1]);
        pa[mi][1] = M::pack(s[mi][2 * kk][2], s[mi][2 * kk][3]);
        pa[mi][2] = M::pack(s[mi][2 * kk + 1][0], s[mi][2 * kk + 1][1]);
        pa[mi][3] = M::pack(s[mi][2 * kk + 1][2], s[mi][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, v_st + v_off.at(kk * 16, dp * 2) * static_cast<int>(sizeof(T)));
#pragma unroll
        for (int mi = 0; mi < MI; ++mi) {
          M::run(o[mi][2 * dp], pa[mi], b[0], b[1]);
          M::run(o[mi][2 * dp + 1], pa[mi], b[2], b[3]);
        }
      }
    }
  }

  // ---- epilogue: O / l through shared memory (this warp's rows of the Q tile) ----
  cp_async_wait<0>();
  __syncthreads();  // all Q copies landed and were consumed, also when ntiles == 0
#pragma unroll
  for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      float sum = l[mi][hh];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const float inv = sum > 0.f ? 1.f / sum : 0.f;
      const int r = wrow0 + mi * 16 + (lane >> 2) + hh * 8;
#pragma unroll
      for (int dt = 0; dt < DT; ++dt) {
        const int col = dt * 8 + (lane & 3) * 2;
        *reinterpret_cast<uint32_t*>(sQ + swz<D>(r, col >> 3) + (col & 7)) =
            M::pack(o[mi][dt][hh * 2] * inv, o[mi][dt][hh * 2 + 1] * inv);
      }
    }
  }
  __syncwarp();
#pragma unroll
  for (int c = lane; c < ROWS_W * CH; c += 32) {
    const int r = wrow0 + c / CH, ch = c % CH;
    if (q0 + r < S)
      *reinterpret_cast<uint4*>(O + static_cast<size_t>(q0 + r) * D + ch * 8) =
          *reinterpret_cast<const uint4*>(sQ + swz<D>(r, ch));
  }
}

}  // namespace detail
}  // namespace bsa
}  // namespace gpu_ref
