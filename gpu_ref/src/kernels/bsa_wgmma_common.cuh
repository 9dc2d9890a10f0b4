#pragma once
// Pieces shared by the wgmma kernels (sm_90a only: included by bsa_wgmma.cu and
// bsa_wgmma_ws.cu, both compiled for compute_90a / sm_90a alone): cp.async and
// wgmma wrappers, shared-memory matrix descriptors, the 128-byte-swizzle
// layout, fp32 -> fp16/bf16 packing and the wgmma instruction shapes.
#include <cstdint>
#include <string>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/error.h"
#include "kernels/block_sparse_attn.h"

namespace gpu_ref {
namespace bsa {
namespace wg {

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define GPU_REF_NO_WGMMA 1  // a device pass other than sm_90a: kernels compile to a trap
#endif

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool pred) {
  const int n = pred ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

#ifndef GPU_REF_NO_WGMMA
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads of an accumulator across wgmma_wait.
template <int N>
__device__ __forceinline__ void fence_regs(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
// Keeps A-fragment registers allocated (not reused) until after the wgmma that reads them completed.
template <int N>
__device__ __forceinline__ void keep_regs(const uint32_t (&r)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" ::"r"(r[i][0]), "r"(r[i][1]), "r"(r[i][2]), "r"(r[i][3]) : "memory");
}
#endif

// Shared-memory matrix descriptor: start address, leading and stride byte
// offsets (16-byte units), 128-byte swizzle (mode 1 in bits 62-63).
__device__ __forceinline__ uint64_t make_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  uint64_t d = 0;
  d |= static_cast<uint64_t>((addr & 0x3FFFFu) >> 4);
  d |= static_cast<uint64_t>((lbo >> 4) & 0x3FFFu) << 16;
  d |= static_cast<uint64_t>((sbo >> 4) & 0x3FFFu) << 32;
  d |= static_cast<uint64_t>(1) << 62;
  return d;
}

// Element offset of 16-byte chunk `ch` of row `r` in a [rows][D] tile stored as 128B-swizzled column blocks.
template <int D>
__device__ __forceinline__ int sw128(int rows, int r, int ch) {
  return (ch >> 3) * rows * 64 + r * 64 + (((ch & 7) ^ (r & 7)) << 3);
}

template <class T>
struct Pack;
template <>
struct Pack<__half> {
  static __device__ __forceinline__ uint32_t run(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};
template <>
struct Pack<__nv_bfloat16> {
  static __device__ __forceinline__ uint32_t run(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};

template <class T, int N>
struct Wgmma;

#ifndef GPU_REF_NO_WGMMA
template <>
struct Wgmma<__half, 64> {
  // D[64x64] (+)= A[64x16] (shared, K-major) * B[16x64] (shared, K-major)
  static __device__ __forceinline__ void ss(float (&d)[32], uint64_t da, uint64_t db, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(accumulate));
  }
  // D[64x64] += A[64x16] (registers) * B[16x64] (shared, MN-major: transposed)
  static __device__ __forceinline__ void rs_trans_b(float (&d)[32], const uint32_t (&a)[4], uint64_t db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
  }
};

template <>
struct Wgmma<__half, 128> {
  // D[64x128] (+)= A[64x16] (shared, K-major) * B[16x128] (shared, K-major)
  static __device__ __forceinline__ void ss(float (&d)[64], uint64_t da, uint64_t db, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(accumulate));
  }
  // D[64x128] += A[64x16] (registers) * B[16x128] (shared, MN-major: transposed)
  static __device__ __forceinline__ void rs_trans_b(float (&d)[64], const uint32_t (&a)[4], uint64_t db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
  }
};

template <>
struct Wgmma<__nv_bfloat16, 64> {
  // D[64x64] (+)= A[64x16] (shared, K-major) * B[16x64] (shared, K-major)
  static __device__ __forceinline__ void ss(float (&d)[32], uint64_t da, uint64_t db, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(accumulate));
  }
  // D[64x64] += A[64x16] (registers) * B[16x64] (shared, MN-major: transposed)
  static __device__ __forceinline__ void rs_trans_b(float (&d)[32], const uint32_t (&a)[4], uint64_t db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
  }
};

template <>
struct Wgmma<__nv_bfloat16, 128> {
  // D[64x128] (+)= A[64x16] (shared, K-major) * B[16x128] (shared, K-major)
  static __device__ __forceinline__ void ss(float (&d)[64], uint64_t da, uint64_t db, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(accumulate));
  }
  // D[64x128] += A[64x16] (registers) * B[16x128] (shared, MN-major: transposed)
  static __device__ __forceinline__ void rs_trans_b(float (&d)[64], const uint32_t (&a)[4], uint64_t db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
  }
};
#endif  // GPU_REF_NO_WGMMA

// Descriptor byte offsets (LBO, SBO) of the three operands; `variant` picks
// among encodings (see WgmmaDesc in block_sparse_attn.h).
// The mask of one BN-key tile, per half of its columns (BN/2 keys each): the half's entry kind (kFull, kCausal,
// a bitmask index, or kEmptyHalf), its first key and its first column within its kv block (for the bitmask). A
// tile is one kv block, a BN-key part of one, or (paired tiles) two 64-key kv blocks side by side.
constexpr int kEmptyHalf = -3;
struct TileMask {
  int kind[2], kv0[2], col0[2];  // [1]: the second half, used by paired tiles only
};
// The tsub-th BN-key part of the kv block of `ent` (one entry for the whole tile).
__device__ __forceinline__ TileMask tile_mask_of(int2 ent, int tsub, int BN, int kv_block) {
  return {{ent.y, ent.y}, {ent.x * kv_block + tsub * BN, 0}, {tsub * BN, 0}};
}
// Two 64-key kv blocks in one 128-key tile (b absent: its half is masked; its keys are a's, loaded again).
__device__ __forceinline__ TileMask tile_mask_pair(int2 a, int2 b, bool has_b) {
  return {{a.y, has_b ? b.y : kEmptyHalf}, {a.x * 64, b.x * 64}, {0, 0}};
}

// The bitmask rows of a PARTIAL entry in the mask (global memory): row 0's word holding column col0 of its kv block
// (rows are mask.kv_block / 32 words apart). Null for the other kinds.
template <int BM>
__device__ __forceinline__ const uint32_t* entry_bits(const BlockMaskView& mask, int kind, int col0) {
  return kind >= 0 ? mask.bitmasks + static_cast<size_t>(kind) * BM * (mask.kv_block / 32) + col0 / 32 : nullptr;
}

// Masks the NC columns of the tile from C0 on (this thread's two rows), which hold keys kv0.. of one mask entry
// of kind `kind`; bits(i): word i of the entry's bitmask rows (`words` a row; entry_bits' words in global memory,
// or a copy in shared memory), asked for PARTIAL entries only.
// Per row, the causal and sequence-end bounds become a prefix of kept columns, ANDed into the row's bitmask words;
// the words are shifted to this thread's first column once, so each element costs a bit test with a
// compile-time mask and a select (instead of bound checks and a bit test with a run-time shift).
template <int BN, int C0, int NC, class Bits>
__device__ __forceinline__ void mask_columns(float (&sacc)[BN / 2], int kind, int kv0, const Bits& bits, int words,
                                             int S, int q0, int wrow0, int lane) {
  constexpr int W = NC / 32;  // bitmask words per row of these columns
  const int c_thread = (lane & 3) * 2;  // this thread's first column within each 8-column fragment
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    const int rl = wrow0 + (lane >> 2) + hh * 8;
    const int gr = q0 + rl;
    const int last = (kind == kCausal ? min(gr, S - 1) : S - 1) - kv0;  // last kept column (bounds alone)
    uint32_t wd[W];
#pragma unroll
    for (int x = 0; x < W; ++x) {
      const int n = last - 32 * x;  // columns 32x .. 32x + n of this word are within the bounds
      uint32_t w = n >= 31 ? 0xffffffffu : n < 0 ? 0u : (2u << n) - 1u;
      if (kind == kEmptyHalf) w = 0u;
      if (kind >= 0) w &= bits(rl * words + x);
      wd[x] = w >> c_thread;
    }
#pragma unroll
    for (int i = 0; i < NC / 8; ++i) {
      const int nt = C0 / 8 + i;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int col = i * 8 + j;  // column within these NC, less c_thread: compile-time
        if (!((wd[col >> 5] >> (col & 31)) & 1u)) sacc[nt * 4 + hh * 2 + j] = -INFINITY;
      }
    }
  }
}

// Mask + online softmax of one BN-key tile's scores, the same in every wgmma
// kernel: `sacc` (this thread's two rows of the warp's 16) becomes P in fp32,
// m and l are updated, alpha gets O's rescale factors, and P is packed into
// the A fragments of the PV wgmma. `tm` is the tile's mask (PAIRED: one entry
// per half), `wrow0` the warp's first row in the BM-row q block that starts at
// query q0.
template <class T, int BM, int BN, bool PAIRED = false, class Bits0, class Bits1>
__device__ __forceinline__ void mask_softmax_tile(float (&sacc)[BN / 2], const TileMask& tm, const Bits0& bits0,
                                                  const Bits1& bits1, int words, int S, int q0, int wrow0, int lane,
                                                  float scale_log2, float (&m)[2], float (&l)[2], float (&alpha)[2],
                                                  uint32_t (&p)[BN / 16][4]) {
  constexpr int NT = BN / 8;  // 8-column fragments
  if constexpr (PAIRED) {
    if (tm.kind[0] != kFull || tm.kv0[0] + BN / 2 > S)
      mask_columns<BN, 0, BN / 2>(sacc, tm.kind[0], tm.kv0[0], bits0, words, S, q0, wrow0, lane);
    if (tm.kind[1] != kFull || tm.kv0[1] + BN / 2 > S)
      mask_columns<BN, BN / 2, BN / 2>(sacc, tm.kind[1], tm.kv0[1], bits1, words, S, q0, wrow0, lane);
  } else if (tm.kind[0] != kFull || tm.kv0[0] + BN > S) {
    mask_columns<BN, 0, BN>(sacc, tm.kind[0], tm.kv0[0], bits0, words, S, q0, wrow0, lane);
  }
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    float rmax = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) rmax = fmaxf(rmax, fmaxf(sacc[nt * 4 + hh * 2], sacc[nt * 4 + hh * 2 + 1]));
    rmax = fmaxf(rmax, __shfl_xor_sync(0xffffffffu, rmax, 1));
    rmax = fmaxf(rmax, __shfl_xor_sync(0xffffffffu, rmax, 2));
    const float m_new = fmaxf(m[hh], rmax * scale_log2);
    const float m_use = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing kept so far
    alpha[hh] = fast_exp2(m[hh] - m_use);                  // 0 when m = -inf
    m[hh] = m_new;
    float rsum = 0.f;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const float pv = fast_exp2(fmaf(sacc[nt * 4 + hh * 2 + j], scale_log2, -m_use));
        sacc[nt * 4 + hh * 2 + j] = pv;
        rsum += pv;
      }
    }
    l[hh] = l[hh] * alpha[hh] + rsum;  // per-thread partial sum; reduced over the quad at the end
  }
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    p[kk][0] = Pack<T>::run(sacc[(2 * kk) * 4 + 0], sacc[(2 * kk) * 4 + 1]);
    p[kk][1] = Pack<T>::run(sacc[(2 * kk) * 4 + 2], sacc[(2 * kk) * 4 + 3]);
    p[kk][2] = Pack<T>::run(sacc[(2 * kk + 1) * 4 + 0], sacc[(2 * kk + 1) * 4 + 1]);
    p[kk][3] = Pack<T>::run(sacc[(2 * kk + 1) * 4 + 2], sacc[(2 * kk + 1) * 4 + 3]);
  }
}

// O *= alpha, per row (this thread's two rows).
template <int DT>
__device__ __forceinline__ void rescale_rows(float (&o)[DT * 4], const float (&alpha)[2]) {
#pragma unroll
  for (int dt = 0; dt < DT; ++dt) {
    o[dt * 4 + 0] *= alpha[0];
    o[dt * 4 + 1] *= alpha[0];
    o[dt * 4 + 2] *= alpha[1];
    o[dt * 4 + 3] *= alpha[1];
  }
}

struct DescCfg {
  uint32_t qk_lbo, qk_sbo, v_lbo, v_sbo;
};

// Calls f(T{}, std::integral_constant<int, D>{}) for the operand type (__half or __nv_bfloat16) and head dim
// (64 or 128: the wgmma kernels' head dims) of `a`: the launchers' one switch from run-time to template values.
template <class F>
void with_type_and_dim(const ForwardArgs& a, F&& f) {
  const bool h = a.dtype == DataType::fp16;
  if (a.head_dim == 64) {
    h ? f(__half{}, std::integral_constant<int, 64>{}) : f(__nv_bfloat16{}, std::integral_constant<int, 64>{});
  } else if (a.head_dim == 128) {
    h ? f(__half{}, std::integral_constant<int, 128>{}) : f(__nv_bfloat16{}, std::integral_constant<int, 128>{});
  } else {
    throw InputError("block-sparse attention", "the wgmma kernels take head_dim 64 or 128");
  }
}

inline DescCfg desc_cfg(int variant, int bn) {
  // 0: K-major Q/K: LBO unused (16 B), SBO = 1024 B (8 rows of 128 B); MN-major V: LBO = bn * 128 B (the
  //    next 64-column block of the tile), SBO = 1024 B (the next 8 keys). Validated on an H200.
  // 1: as 0 with V's LBO and SBO swapped; 2: as 0 with Q/K LBO = 0 (for experiments)
  const uint32_t blk = static_cast<uint32_t>(bn) * 128;
  switch (variant) {
    case 1: return DescCfg{16, 1024, 1024, blk};
    case 2: return DescCfg{0, 1024, blk, 1024};
    default: return DescCfg{16, 1024, blk, 1024};
  }
}

// S = Q K^T of one tile: D/16 wgmma m64nBNk16, both operands K-major in
// shared memory (Q's BM-row tile at sQ, this warpgroup's 64 rows; K's tile at
// k_st), committed as one group.
template <class T, int D, int BM, int BN>
__device__ __forceinline__ void issue_qk_tile(float (&sacc)[BN / 2], uint32_t sQ, uint32_t k_st, int wgi,
                                              const DescCfg& dc) {
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t koff = (kk & 3) * 32;  // 16 elements further along K inside the 128-byte row
    const uint64_t da = make_desc(sQ + (kk >> 2) * BM * 128 + wgi * 64 * 128 + koff, dc.qk_lbo, dc.qk_sbo);
    const uint64_t db = make_desc(k_st + (kk >> 2) * BN * 128 + koff, dc.qk_lbo, dc.qk_sbo);
    Wgmma<T, BN>::ss(sacc, da, db, kk > 0 ? 1 : 0);
  }
  wgmma_commit();
}

// O += P V of one tile: BN/16 wgmma m64nDk16, P from registers, V MN-major in
// shared memory at v_st, committed as one group.
template <class T, int D, int BN>
__device__ __forceinline__ void issue_pv_tile(float (&o)[D / 2], const uint32_t (&p)[BN / 16][4], uint32_t v_st,
                                              const DescCfg& dc) {
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    const uint64_t db = make_desc(v_st + kk * 16 * 128, dc.v_lbo, dc.v_sbo);
    Wgmma<T, D>::rs_trans_b(o, p[kk], db);
  }
  wgmma_commit();
}

// Epilogue of one warp: O / l for its 16 rows, packed, staged through the
// warp's rows of the (swizzled) Q tile in shared memory, then written to
// global memory 16 bytes at a time (rows past S dropped).
template <class T, int D, int BM>
__device__ __forceinline__ void store_output_rows(const float (&o)[D / 2], const float (&l)[2], T* sQ, T* O, int wrow0,
                                                  int lane, int q0, int S) {
  constexpr int DT = D / 8, CH = D / 8;
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    float sum = l[hh];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    const int r = wrow0 + (lane >> 2) + hh * 8;
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) {
      const int col = dt * 8 + (lane & 3) * 2;
      *reinterpret_cast<uint32_t*>(sQ + sw128<D>(BM, r, col >> 3) + (col & 7)) =
          Pack<T>::run(o[dt * 4 + hh * 2] * inv, o[dt * 4 + hh * 2 + 1] * inv);
    }
  }
  __syncwarp();
#pragma unroll
  for (int c = lane; c < 16 * CH; c += 32) {
    const int r = wrow0 + c / CH, ch = c % CH;
    if (q0 + r < S)
      *reinterpret_cast<uint4*>(O + static_cast<size_t>(q0 + r) * D + ch * 8) =
          *reinterpret_cast<const uint4*>(sQ + sw128<D>(BM, r, ch));
  }
}

}  // namespace wg
}  // namespace bsa
}  // namespace gpu_ref
