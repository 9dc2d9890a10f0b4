// Host test of the block-mask builders (no GPU needed): a block mask must keep exactly the element mask it was
// built from, and merge_q_blocks must keep the same elements with 128-row q-blocks. Exit 0 when every check
// passes, 1 with the failures listed otherwise.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/block_sparse_attn.h"

namespace bsa = gpu_ref::bsa;

namespace {

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

// The element mask [mask_heads][S][S] a block mask keeps (what the kernel computes with).
std::vector<char> expand(const bsa::HostBlockMask& m) {
  const int S = m.seq_len, words = m.kv_block / 32;
  std::vector<char> keep(static_cast<size_t>(m.mask_heads) * S * S, 0);
  for (int mh = 0; mh < m.mask_heads; ++mh)
    for (int qb = 0; qb < m.nqb; ++qb) {
      const int it = mh * m.nqb + qb;
      for (int e = m.row_ptr[it]; e < m.row_ptr[it + 1]; ++e) {
        const int kb = m.entries[2 * e], kind = m.entries[2 * e + 1];
        for (int r = qb * m.q_block; r < std::min(S, (qb + 1) * m.q_block); ++r)
          for (int c = kb * m.kv_block; c < std::min(S, (kb + 1) * m.kv_block); ++c) {
            const int cl = c - kb * m.kv_block;
            const bool k = kind == bsa::kFull ? true
                           : kind == bsa::kCausal
                               ? c <= r
                               : (m.bitmasks[(static_cast<size_t>(kind) * m.q_block + (r - qb * m.q_block)) * words +
                                             cl / 32] >> (cl % 32)) & 1u;
            keep[(static_cast<size_t>(mh) * S + r) * S + c] = k;
          }
      }
    }
  return keep;
}

struct Csr {
  std::vector<int32_t> indptr, indices;
  std::vector<int64_t> offsets;
};

Csr csr_of(const std::vector<char>& keep, int mask_heads, int S) {
  Csr c;
  c.offsets.push_back(0);
  for (int mh = 0; mh < mask_heads; ++mh) {
    int32_t n = 0;
    c.indptr.push_back(0);
    for (int r = 0; r < S; ++r) {
      for (int col = 0; col < S; ++col)
        if (keep[(static_cast<size_t>(mh) * S + r) * S + col]) {
          c.indices.push_back(col);
          ++n;
        }
      c.indptr.push_back(n);
    }
    c.offsets.push_back(c.offsets.back() + n);
  }
  return c;
}

// Random element masks over 64-blocks: empty / full / random-partial blocks, a causal band on head 0, a causal
// sliding window of 4 blocks with a vertical stride on head 1 (the local-stride shape), empty rows on head 2.
std::vector<char> random_mask(int mask_heads, int S, std::mt19937& rng) {
  std::vector<char> keep(static_cast<size_t>(mask_heads) * S * S, 0);
  const int nb = (S + 63) / 64;
  std::uniform_int_distribution<int> kind(0, 2), bit(0, 1);
  for (int mh = 0; mh < mask_heads; ++mh) {
    std::vector<int> kinds(static_cast<size_t>(nb) * nb);
    for (int& k : kinds) k = kind(rng);
    for (int r = 0; r < S; ++r)
      for (int c = 0; c < S; ++c) {
        bool k;
        if (mh % 3 == 1) {
          const int qb = r / 64, kb = c / 64;
          k = c <= r && (qb - kb < 4 || kb % 3 == 0);
        } else {
          const int bk = kinds[static_cast<size_t>(r / 64) * nb + c / 64];
          k = bk == 1 || (bk == 2 && bit(rng));
          if (mh % 3 == 0) k = k || c <= r;
          if (mh % 3 == 2 && r < 70) k = false;
        }
        keep[(static_cast<size_t>(mh) * S + r) * S + c] = k;
      }
  }
  return keep;
}

}  // namespace

int main() {
  std::mt19937 rng(7);
  const int MH = 3;
  for (int S : {64, 100, 256, 520, 777}) {
    for (int kvb : {64, 128}) {
      const std::string name = "S=" + std::to_string(S) + " kv_block=" + std::to_string(kvb);
      const auto keep = random_mask(MH, S, rng);
      const Csr c = csr_of(keep, MH, S);
      const auto m64 = bsa::block_mask_from_csr(c.indptr.data(), c.indices.data(), c.offsets.data(), MH, S, 64, kvb);
      check(expand(m64) == keep, name + ": the 64-row block mask keeps the element mask");
      const auto m128 = bsa::merge_q_blocks(m64);
      check(m128.q_block == 128 && m128.nqb == (S + 127) / 128, name + ": merged shape");
      check(expand(m128) == keep, name + ": the merged block mask keeps the element mask");
      check(m128.kept_elements == m64.kept_elements, name + ": kept elements carried over");
      int64_t listed = 0;
      for (int it = 0; it < MH * m128.nqb; ++it)
        for (int e = m128.row_ptr[it] + 1; e < m128.row_ptr[it + 1]; ++e)
          check(m128.entries[2 * e - 2] < m128.entries[2 * e], name + ": kv blocks sorted and unique in a row");
      listed = m128.full_blocks + m128.causal_blocks + m128.partial_blocks;
      check(listed == m128.n_entries(), name + ": block counts add up");
    }
  }
  // Causal masks from block kinds: the merge keeps them FULL + CAUSAL (no bitmask at all).
  for (int S : {1000, 1024}) {
    const int nb = (S + 63) / 64;
    std::vector<int8_t> kinds(static_cast<size_t>(nb) * nb);
    for (int i = 0; i < nb; ++i)
      for (int j = 0; j < nb; ++j) kinds[static_cast<size_t>(i) * nb + j] = j < i ? 1 : (j == i ? 2 : 0);
    const auto m = bsa::merge_q_blocks(bsa::block_mask_from_kinds(kinds.data(), 1, S, 64, 64));
    check(m.partial_blocks == 0 && m.causal_blocks == 2 * m.nqb - (nb % 2),
          "causal S=" + std::to_string(S) + ": merged into FULL and CAUSAL blocks only (" +
              std::to_string(m.partial_blocks) + " partial, " + std::to_string(m.causal_blocks) + " causal)");
  }
  // A sliding causal window of 16 blocks: one PARTIAL block (the window's far end) per merged row once it is full.
  {
    const int S = 4096, nb = S / 64;
    std::vector<int8_t> kinds(static_cast<size_t>(nb) * nb, 0);
    for (int i = 0; i < nb; ++i)
      for (int j = std::max(0, i - 15); j <= i; ++j) kinds[static_cast<size_t>(i) * nb + j] = j == i ? 2 : 1;
    const auto m64 = bsa::block_mask_from_kinds(kinds.data(), 1, S, 64, 64);
    const auto m = bsa::merge_q_blocks(m64);
    check(m.partial_blocks == nb / 2 - 8, "sliding window: " + std::to_string(m.partial_blocks) + " partial blocks");
    // per merged row the top half also computes the bottom's diagonal block, and from row 8 on the bottom half
    // the top's far end
    check(m.computed_elements == m64.computed_elements + (nb / 2) * 64 * 64 + (nb / 2 - 8) * 64 * 64,
          "sliding window: extra computed elements");
  }
  // The automatic tiling: head dim 128 on 128-key blocks switches to wg128_m2 at 768 listed keys a row on average
  // (a causal 128-block mask of S = 1536: 12 rows listing 1 + 2 + ... + 12 = 78 blocks, 832 keys a row; S = 1280:
  // 10 rows, 55 blocks, 704 keys a row).
  for (int S : {1280, 1536}) {
    const int nb = S / 128;
    std::vector<int8_t> kinds(static_cast<size_t>(nb) * nb);
    for (int i = 0; i < nb; ++i)
      for (int j = 0; j < nb; ++j) kinds[static_cast<size_t>(i) * nb + j] = j < i ? 1 : (j == i ? 2 : 0);
    const auto m = bsa::block_mask_from_kinds(kinds.data(), 1, S, 128, 128);
    bsa::BlockMaskView view;  // the shape and the block count DeviceBlockMask puts in its view (no device memory)
    view.seq_len = m.seq_len;
    view.q_block = m.q_block;
    view.kv_block = m.kv_block;
    view.mask_heads = m.mask_heads;
    view.n_entries = m.n_entries();
    const double keys = 128.0 * (nb + 1) / 2, got = bsa::mean_row_keys(view);
    check(got == keys,
          "causal S=" + std::to_string(S) + ": mean keys a row " + std::to_string(got) + " vs " + std::to_string(keys));
    const bsa::Tiling t = bsa::automatic_tiling(true, 128, 128, 128, got);
    check(t == (S == 1536 ? bsa::Tiling::wg128_m2 : bsa::Tiling::wg128_wsp),
          "causal S=" + std::to_string(S) + ": automatic tiling " + bsa::tiling_name(t));
  }
  check(bsa::automatic_tiling(true, 64, 128, 128, 1e6) == bsa::Tiling::wg128_wsp, "head dim 64: wg128_wsp");
  check(bsa::automatic_tiling(true, 128, 128, 64, 1e6) == bsa::Tiling::wg128_wsp, "64-key blocks: wg128_wsp");
  check(bsa::automatic_tiling(false, 128, 128, 128, 1e6) == bsa::Tiling::q128_w4, "without wgmma: q128_w4");
  // Bad input.
  try {
    std::vector<int8_t> k(4, 1);
    bsa::merge_q_blocks(bsa::block_mask_from_kinds(k.data(), 1, 256, 128, 128));
    check(false, "merging a 128-row mask must throw");
  } catch (const gpu_ref::InputError& e) {
    check(std::string(e.what()).find("64-row") != std::string::npos, "the error says what is wrong");
  }
  std::printf("%s (%d failures)\n", failures ? "FAILED" : "ok", failures);
  return failures ? 1 : 0;
}
