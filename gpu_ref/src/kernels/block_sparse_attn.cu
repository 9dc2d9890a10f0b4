// Dispatcher of the fused block-sparse attention kernel and the device copy of
// a block mask.
#include "kernels/block_sparse_attn.h"

#include <cstring>
#include <string>

#include "common/error.h"
#include "kernels/bsa_launch.cuh"

namespace gpu_ref {
namespace bsa {

const char* tiling_name(Tiling t) {
  switch (t) {
    case Tiling::automatic: return "auto";
    case Tiling::q64_w4: return "q64_w4";
    case Tiling::q64_w4_s3: return "q64_w4_s3";
    case Tiling::q128_w8: return "q128_w8";
    case Tiling::q128_w4: return "q128_w4";
    case Tiling::q64_w2: return "q64_w2";
    case Tiling::wg64: return "wg64";
    case Tiling::wg128: return "wg128";
    case Tiling::wg64_s3: return "wg64_s3";
    case Tiling::wg64_n128: return "wg64_n128";
    case Tiling::wg128_m2: return "wg128_m2";
    case Tiling::wg128_s3: return "wg128_s3";
    case Tiling::wg128_n128: return "wg128_n128";
    case Tiling::wg64_p: return "wg64_p";
    case Tiling::wg128_p: return "wg128_p";
    case Tiling::wg128_n128_m2: return "wg128_n128_m2";
    case Tiling::wg128_n128_s3: return "wg128_n128_s3";
    case Tiling::wg128_n128_p: return "wg128_n128_p";
    case Tiling::wg64_n128_m3: return "wg64_n128_m3";
    case Tiling::wg64_m4: return "wg64_m4";
    case Tiling::wg128_ws: return "wg128_ws";
    case Tiling::wg128_wsp: return "wg128_wsp";
  }
  return "?";
}

bool tiling_is_wgmma(Tiling t) { return static_cast<int>(t) >= static_cast<int>(Tiling::wg64); }

Tiling automatic_tiling(bool wgmma, int head_dim, int q_block, int kv_block, double mean_row_keys) {
  if (wgmma && (head_dim == 64 || head_dim == 128)) {
    if (q_block == 128)
      return head_dim == 128 && kv_block == 128 && mean_row_keys >= 768 ? Tiling::wg128_m2 : Tiling::wg128_wsp;
    return head_dim == 128 ? Tiling::wg64_p : Tiling::wg64_m4;
  }
  if (q_block == 128) return Tiling::q128_w4;
  return head_dim == 64 ? Tiling::q64_w2 : Tiling::q64_w4;
}

Tiling resolve_tiling(Tiling t, int head_dim, const BlockMaskView& mask) {
  if (t != Tiling::automatic) return t;
  return automatic_tiling(wgmma_available(), head_dim, mask.q_block, mask.kv_block, mean_row_keys(mask));
}

double mean_row_keys(const BlockMaskView& mask) {
  const int64_t rows = static_cast<int64_t>(mask.mask_heads) * ((mask.seq_len + mask.q_block - 1) / mask.q_block);
  return rows > 0 ? static_cast<double>(mask.n_entries) * mask.kv_block / rows : 0.;
}

bool merged_q_blocks_pay(int q_block, int head_dim) {
  return q_block == 64 && (head_dim == 64 || head_dim == 128) && wgmma_available();
}

namespace {
int g_wgmma_variant = 0;
}  // namespace

void set_wgmma_desc_variant(int variant) { g_wgmma_variant = variant; }

bool wgmma_available() {
  static int avail = -1;
  if (avail < 0) {
    int dev = 0, major = 0, minor = 0;
    avail = cudaGetDevice(&dev) == cudaSuccess &&
            cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
            cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess && major == 9 &&
            minor == 0;
  }
  return avail == 1;
}

int tiling_q_block(Tiling t) {
  switch (t) {
    case Tiling::q64_w4:
    case Tiling::q64_w4_s3:
    case Tiling::q64_w2:
    case Tiling::wg64:
    case Tiling::wg64_s3:
    case Tiling::wg64_n128:
    case Tiling::wg64_p:
    case Tiling::wg64_n128_m3:
    case Tiling::wg64_m4: return 64;
    case Tiling::q128_w8:
    case Tiling::q128_w4:
    case Tiling::wg128:
    case Tiling::wg128_m2:
    case Tiling::wg128_s3:
    case Tiling::wg128_n128:
    case Tiling::wg128_p:
    case Tiling::wg128_n128_m2:
    case Tiling::wg128_n128_s3:
    case Tiling::wg128_n128_p:
    case Tiling::wg128_ws:
    case Tiling::wg128_wsp: return 128;
    default: return 0;
  }
}

namespace {
[[noreturn]] void bad(const std::string& what) { throw InputError("block-sparse attention", what); }
}  // namespace

void forward(const ForwardArgs& a, const BlockMaskView& mask, cudaStream_t stream) {
  if (a.head_dim != 32 && a.head_dim != 64 && a.head_dim != 128)
    bad("head_dim " + std::to_string(a.head_dim) + " not supported (32, 64 or 128)");
  if (mask.q_block != 64 && mask.q_block != 128) bad("q_block must be 64 or 128");
  if (mask.kv_block != 64 && mask.kv_block != 128) bad("kv_block must be 64 or 128");
  if (mask.seq_len != a.seq_len) bad("the block mask was built for another seq_len");
  if (a.heads <= 0 || mask.mask_heads <= 0 || a.heads % mask.mask_heads != 0)
    bad("heads (" + std::to_string(a.heads) + ") must be a multiple of the mask's heads (" +
        std::to_string(mask.mask_heads) + ")");
  const Tiling t = resolve_tiling(a.tiling, a.head_dim, mask);
  if (tiling_q_block(t) != mask.q_block)
    bad(std::string("tiling ") + tiling_name(t) + " needs q_block " + std::to_string(tiling_q_block(t)));
  if (tiling_is_wgmma(t)) {
    if (!wgmma_available()) bad(std::string("tiling ") + tiling_name(t) + " needs a compute capability 9.0 GPU");
    if (t == Tiling::wg128_ws || t == Tiling::wg128_wsp)
      launch_wgmma_ws(a, mask, t == Tiling::wg128_wsp, g_wgmma_variant, stream);
    else
      launch_wgmma(a, mask, t, g_wgmma_variant, stream);
    return;
  }
  const bool h = a.dtype == DataType::fp16;
  switch (a.head_dim) {
    case 32: h ? launch_fp16_d32(a, mask, t, stream) : launch_bf16_d32(a, mask, t, stream); break;
    case 64: h ? launch_fp16_d64(a, mask, t, stream) : launch_bf16_d64(a, mask, t, stream); break;
    default: h ? launch_fp16_d128(a, mask, t, stream) : launch_bf16_d128(a, mask, t, stream); break;
  }
}

// ---- device copy: one allocation holding all arrays ----

DeviceBlockMask::DeviceBlockMask(const HostBlockMask& hm, cudaStream_t stream) {
  auto align = [](size_t x) { return (x + 255) / 256 * 256; };
  const size_t b_row = hm.row_ptr.size() * sizeof(int), b_ent = hm.entries.size() * sizeof(int),
               b_bit = hm.bitmasks.size() * sizeof(uint32_t), b_ord = hm.order.size() * sizeof(int);
  const size_t o_row = 0, o_ent = align(b_row), o_bit = o_ent + align(b_ent), o_ord = o_bit + align(b_bit);
  const size_t total = o_ord + align(b_ord) + 256;
  CHECK_CUDA(cudaMalloc(&mem_, total));
  char* base = static_cast<char*>(mem_);
  std::vector<char> host(total, 0);
  if (b_row) std::memcpy(host.data() + o_row, hm.row_ptr.data(), b_row);
  if (b_ent) std::memcpy(host.data() + o_ent, hm.entries.data(), b_ent);
  if (b_bit) std::memcpy(host.data() + o_bit, hm.bitmasks.data(), b_bit);
  if (b_ord) std::memcpy(host.data() + o_ord, hm.order.data(), b_ord);
  CHECK_CUDA(cudaMemcpyAsync(mem_, host.data(), total, cudaMemcpyHostToDevice, stream));
  CHECK_CUDA(cudaStreamSynchronize(stream));  // `host` dies here
  view_.seq_len = hm.seq_len;
  view_.q_block = hm.q_block;
  view_.kv_block = hm.kv_block;
  view_.mask_heads = hm.mask_heads;
  view_.row_ptr = reinterpret_cast<const int*>(base + o_row);
  view_.entries = reinterpret_cast<const int2*>(base + o_ent);
  view_.bitmasks = reinterpret_cast<const uint32_t*>(base + o_bit);
  view_.order = hm.order.empty() ? nullptr : reinterpret_cast<const int*>(base + o_ord);
  view_.n_entries = hm.n_entries();
}

DeviceBlockMask::~DeviceBlockMask() {
  if (mem_) cudaFree(mem_);
}

}  // namespace bsa
}  // namespace gpu_ref
