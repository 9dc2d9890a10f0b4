#pragma once
// Fused block-sparse attention forward (FlashAttention-2 style) for sm_80+
// (built for sm_90): one CTA per (head, q-block); the Q tile is loaded into
// shared memory (cp.async) and from there into registers; the CTA walks only
// the kv blocks listed for its q-block (a CSR-like list), streaming K/V tiles
// of 64 keys through a 2- or 3-stage cp.async ring in XOR-swizzled shared
// memory; QK^T and PV run on the tensor cores (mma.sync m16n8k16, fp16 or
// bf16 operands, fp32 accumulation) with an online softmax in fp32 (exp2).
//
// Block kinds per (q-block, kv-block):
//   empty    not listed, never touched
//   FULL     no per-element mask
//   CAUSAL   keep key j <= query i (global positions); a causal diagonal block
//   PARTIAL  per-element bitmask: q_block rows x kv_block bits
// Keys j >= seq_len are always masked (a ragged last block), and rows with no
// kept key get output 0 (the dump format's convention, and FlexAttention's).
//
// Layout: q, k, v, o are [heads, seq_len, head_dim] row-major (a [B, H, S, D]
// tensor is that with heads = B * H). Head h uses the block mask of
// mask head h % mask_heads (a [1, H, ...] mask broadcast over the batch).
#include <cstdint>
#include <string>
#include <vector>

#include <cuda_runtime.h>

namespace gpu_ref {
namespace bsa {

constexpr int kFull = -1;    // entry kind: no per-element mask
constexpr int kCausal = -2;  // entry kind: key <= query
// kind >= 0: index of the block's bitmask in BlockMaskView::bitmasks

enum class DataType { fp16 = 0, bf16 = 1 };

// Kernel tilings (all with 64-key kv tiles; a 128-key kv block is two tiles).
//   q64_w4      q-block 64, 4 warps x 16 rows, 2 stages      (q_block 64)
//   q64_w4_s3   q-block 64, 4 warps x 16 rows, 3 stages      (q_block 64)
//   q128_w8     q-block 128, 8 warps x 16 rows, 2 stages     (q_block 128)
//   q128_w4     q-block 128, 4 warps x 32 rows, 2 stages     (q_block 128)
//   q64_w2      q-block 64, 2 warps x 32 rows, 2 stages      (q_block 64)
// and on Hopper's warpgroup MMA (wgmma; an sm_90 GPU, head_dim 64 or 128):
//   wg64        q-block 64, 1 warpgroup (64 rows), 64-key tiles, 2 stages   (q_block 64)
//   wg64_s3     as wg64 with 3 stages, 2 CTAs/SM asked for                   (q_block 64)
//   wg64_n128   as wg64 with 128-key tiles, 2 CTAs/SM                        (q_block 64, kv_block 128)
//   wg128       q-block 128, 2 warpgroups, 64-key tiles, 2 stages            (q_block 128)
//   wg128_m2    as wg128, registers capped for 2 CTAs/SM                     (q_block 128)
//   wg128_s3    as wg128 with 3 stages                                       (q_block 128)
//   wg128_n128  as wg128 with 128-key tiles                                  (q_block 128, kv_block 128)
//   wg64_p      wg64, 3 stages, software-pipelined (softmax of tile t+1 overlaps the PV of tile t)
//   wg128_p     wg128, 3 stages, software-pipelined
//   wg128_n128_m2  as wg128_n128, registers capped for 2 CTAs/SM (head_dim 64)  (q_block 128, kv_block 128)
//   wg128_n128_s3  as wg128_n128 with 3 stages                                  (q_block 128, kv_block 128)
//   wg128_n128_p   as wg128_n128, 3 stages, software-pipelined                  (q_block 128, kv_block 128)
//   wg64_n128_m3   as wg64_n128, registers capped for 3 CTAs/SM (head_dim 64)  (q_block 64, kv_block 128)
//   wg64_m4        as wg64, registers capped for 4 CTAs/SM (head_dim 64)         (q_block 64)
//   wg128_ws       warp-specialised (FlashAttention-3 structure): a TMA producer warpgroup and an mbarrier
//                  ring, 2 consumer warpgroups in ping-pong; tiles of kv_block keys (q_block 128)
//   wg128_wsp      wg128_ws as a persistent kernel: one CTA per SM takes q-blocks from a global counter in the
//                  mask's order, its producer loading the next q-block's Q and K/V while the consumers finish this
//                  one (q_block 128). One counter per process: wg128_wsp launches must not overlap (streams).
enum class Tiling {
  automatic = 0, q64_w4 = 1, q64_w4_s3 = 2, q128_w8 = 3, q128_w4 = 4, q64_w2 = 5, wg64 = 6, wg128 = 7,
  wg64_s3 = 8, wg64_n128 = 9, wg128_m2 = 10, wg128_s3 = 11, wg128_n128 = 12, wg64_p = 13, wg128_p = 14,
  wg128_n128_m2 = 15, wg128_n128_s3 = 16, wg128_n128_p = 17, wg64_n128_m3 = 18, wg64_m4 = 19, wg128_ws = 20,
  wg128_wsp = 21
};
constexpr int kNumTilings = 22;
const char* tiling_name(Tiling t);
int tiling_q_block(Tiling t);
bool tiling_is_wgmma(Tiling t);
// The tiling `automatic` stands for (the measurements behind it: docs/gpu_kernel.md, "Which tiling runs when"):
// with wgmma (an sm_90 GPU, head_dim 64/128) for q_block 128 wg128_wsp, except at head_dim 128 on 128-key blocks
// whose q-block rows list 768 keys or more on average (mean_row_keys), where wg128_m2 ran faster (H100); for q_block 64
// wg64_p (head_dim 128) or wg64_m4 - but a 64-row mask is faster merged into 128-row q-blocks (merge_q_blocks) on
// wg128_wsp: see merged_q_blocks_pay. Without wgmma q128_w4, and q64_w2 (head_dim 64) or q64_w4. Another tiling
// is returned as is.
Tiling automatic_tiling(bool wgmma, int head_dim, int q_block, int kv_block, double mean_row_keys);
// Whether `automatic` should run a mask of q_block-row q-blocks merged into 128-row ones (merge_q_blocks) on
// wg128_wsp: q_block 64 and wgmma at head_dim 64/128 (the local-stride masks of 64-blocks ran faster so than on
// the best 64-row tiling at both head dims, H100: docs/gpu_kernel.md).
bool merged_q_blocks_pay(int q_block, int head_dim);
// Whether the wgmma tilings can run here (built for sm_90a and the current GPU is compute capability 9.0).
bool wgmma_available();
// Encoding of the wgmma shared-memory descriptors (0 = the canonical one; for experiments).
void set_wgmma_desc_variant(int variant);

// Device view of a block mask (pointers to device memory).
struct BlockMaskView {
  int seq_len = 0, q_block = 64, kv_block = 64, mask_heads = 1;
  const int* row_ptr = nullptr;         // [mask_heads * nqb + 1], into entries
  const int2* entries = nullptr;        // {kv block index, kind}, sorted by kv block within a row
  const uint32_t* bitmasks = nullptr;   // [n_partial][q_block][kv_block / 32], 16-byte aligned (wg128_ws copies
                                        // an entry's rows with the bulk-copy engine)
  const int* order = nullptr;           // [mask_heads * nqb] launch order of (mask_head * nqb + qb), mask heads
                                        // in turn; may be null
  int64_t n_entries = 0;                // listed blocks of all mask heads (for the automatic tiling; 0: unknown)
};
// Keys listed per q-block row on average (the automatic tiling's measure of work per row).
double mean_row_keys(const BlockMaskView& mask);
// As automatic_tiling on this GPU (wgmma_available) and this mask for `t` automatic.
Tiling resolve_tiling(Tiling t, int head_dim, const BlockMaskView& mask);

// Work item w of a launch (one per data head and q-block): its data head h and mask row mq (mask_head * nqb +
// q-block). Data heads outermost, and within a head the mask's order (heaviest q-blocks first): the CTAs that run
// at the same time then read one head's K and V (which stay in L2), and each head's long q-blocks start first.
struct WorkItem {
  int h, mq;
};
#ifdef __CUDACC__
__host__ __device__ inline WorkItem work_item(int w, int nqb, const BlockMaskView& mask) {
  const int per_rep = mask.mask_heads * nqb;
  const int rep = w / per_rep, pos = w % per_rep;
  const int mq = mask.order ? mask.order[pos] : pos;
  return {rep * mask.mask_heads + mq / nqb, mq};
}
#endif

struct ForwardArgs {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  int heads = 0, seq_len = 0, head_dim = 0;
  float scale = 1.f;  // softmax scale (1/sqrt(head_dim) usually)
  DataType dtype = DataType::fp16;
  Tiling tiling = Tiling::automatic;
};

// Supported: head_dim 32, 64, 128 (wgmma tilings: 64, 128); q_block 64 or 128 (the kernel's q tile);
// kv_block 64 or 128; heads % mask_heads == 0. Throws InputError on a bad
// shape, GpuError on a CUDA failure. Asynchronous on `stream`.
void forward(const ForwardArgs& a, const BlockMaskView& mask, cudaStream_t stream);

// ---- block masks on the host -------------------------------------------------

struct HostBlockMask {
  int seq_len = 0, q_block = 64, kv_block = 64, mask_heads = 1, nqb = 0, nkb = 0;
  std::vector<int> row_ptr;          // [mask_heads * nqb + 1]
  std::vector<int> entries;          // pairs {kv block, kind}
  std::vector<uint32_t> bitmasks;    // [n_partial][q_block][kv_block / 32]
  std::vector<int> order;            // per mask head in turn, its heaviest q-blocks first
  // Statistics (per mask head summed over mask heads).
  int64_t full_blocks = 0, causal_blocks = 0, partial_blocks = 0;
  int64_t computed_elements = 0;  // q x k elements inside listed blocks (clipped to seq_len)
  int64_t kept_elements = 0;      // elements of the element mask
  int64_t n_entries() const { return static_cast<int64_t>(entries.size() / 2); }
  int64_t n_partial() const { return partial_blocks; }
};

// From an element mask in the dump format: indptr [mask_heads][S + 1] (each
// head's starting at 0), indices (all heads concatenated, local columns),
// offsets [mask_heads + 1] (where each head's entries start; may be null when
// the heads' entries are simply concatenated). A block is FULL if all its
// in-range elements are kept, empty if none, else PARTIAL (CAUSAL when the
// kept set is exactly the causal triangle and detect_causal).
HostBlockMask block_mask_from_csr(const int32_t* indptr, const int32_t* indices, const int64_t* offsets,
                                  int mask_heads, int seq_len, int q_block, int kv_block, bool detect_causal = true);

// From per-block kinds [mask_heads][nqb][nkb] (0 empty, 1 full, 2 causal).
HostBlockMask block_mask_from_kinds(const int8_t* kinds, int mask_heads, int seq_len, int q_block, int kv_block);

// A 64-row-q-block mask as a 128-row one (kv blocks unchanged): q-blocks 2i and 2i+1 become q-block i, whose kv
// list is the union of theirs. A kv block is FULL when both halves are (a half past seq_len counts as either),
// CAUSAL when each half is the causal restriction of the block (FULL below the diagonal, CAUSAL on it, not listed
// above it), else PARTIAL with both halves' bits. Same element mask; lets 64-block masks run on the 128-row
// tilings (wg128_ws, wg128_wsp): on a causal sliding window of w blocks ~1/w more computed elements.
HostBlockMask merge_q_blocks(const HostBlockMask& m);

// Fills order (mask heads in turn, each's heaviest rows first; stable by index) and the statistics of
// listed blocks (computed_elements); called by the two builders.
void finish_block_mask(HostBlockMask& m);

// The block mask on the device (owning).
class DeviceBlockMask {
 public:
  DeviceBlockMask() = default;
  explicit DeviceBlockMask(const HostBlockMask& h, cudaStream_t stream = nullptr);
  ~DeviceBlockMask();
  DeviceBlockMask(const DeviceBlockMask&) = delete;
  DeviceBlockMask& operator=(const DeviceBlockMask&) = delete;
  BlockMaskView view() const { return view_; }

 private:
  void* mem_ = nullptr;
  BlockMaskView view_;
};

}  // namespace bsa
}  // namespace gpu_ref
