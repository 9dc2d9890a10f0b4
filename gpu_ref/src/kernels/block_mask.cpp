// Block masks for the fused kernel, built on the host from an element mask in
// CSR form (the dump format) or from per-block kinds.
#include <algorithm>
#include <numeric>
#include <string>

#include "common/error.h"
#include "kernels/block_sparse_attn.h"

namespace gpu_ref {
namespace bsa {

namespace {

[[noreturn]] void bad(const std::string& what) { throw InputError("block mask", what); }

void check_shape(int mask_heads, int S, int qb, int kvb) {
  if (mask_heads < 1) bad("mask_heads must be >= 1");
  if (S < 1) bad("seq_len must be >= 1");
  if (qb != 64 && qb != 128) bad("q_block must be 64 or 128, got " + std::to_string(qb));
  if (kvb != 64 && kvb != 128) bad("kv_block must be 64 or 128, got " + std::to_string(kvb));
}

HostBlockMask empty_mask(int mask_heads, int S, int qb, int kvb) {
  HostBlockMask m;
  m.seq_len = S;
  m.q_block = qb;
  m.kv_block = kvb;
  m.mask_heads = mask_heads;
  m.nqb = (S + qb - 1) / qb;
  m.nkb = (S + kvb - 1) / kvb;
  m.row_ptr.reserve(static_cast<size_t>(mask_heads) * m.nqb + 1);
  m.row_ptr.push_back(0);
  return m;
}

// Elements (r, c) with c <= r in rows [r0, r1) x columns [c0, c1).
int64_t causal_count(int r0, int r1, int c0, int c1) {
  int64_t n = 0;
  for (int r = r0; r < r1; ++r) n += std::clamp(r - c0 + 1, 0, c1 - c0);
  return n;
}

}  // namespace

void finish_block_mask(HostBlockMask& m) {
  const int items = m.mask_heads * m.nqb;
  m.computed_elements = 0;
  for (int it = 0; it < items; ++it) {
    const int qb = it % m.nqb;
    const int rows = std::min(m.seq_len, (qb + 1) * m.q_block) - qb * m.q_block;
    for (int e = m.row_ptr[it]; e < m.row_ptr[it + 1]; ++e) {
      const int kb = m.entries[2 * e];
      const int cols = std::min(m.seq_len, (kb + 1) * m.kv_block) - kb * m.kv_block;
      m.computed_elements += static_cast<int64_t>(rows) * cols;
    }
  }
  // Heaviest q-blocks first (longest-processing-time order over the waves of CTAs).
  m.order.resize(items);
  std::iota(m.order.begin(), m.order.end(), 0);
  std::stable_sort(m.order.begin(), m.order.end(), [&](int a, int b) {
    return m.row_ptr[a + 1] - m.row_ptr[a] > m.row_ptr[b + 1] - m.row_ptr[b];
  });
}

HostBlockMask block_mask_from_csr(const int32_t* indptr, const int32_t* indices, const int64_t* offsets,
                                  int mask_heads, int S, int qbs, int kvb, bool detect_causal) {
  check_shape(mask_heads, S, qbs, kvb);
  HostBlockMask m = empty_mask(mask_heads, S, qbs, kvb);
  const int words = kvb / 32;
  std::vector<int64_t> cnt(m.nkb, 0);
  std::vector<char> above(m.nkb, 0);  // a kept element with column > row
  std::vector<int> kind_of(m.nkb, 0);
  std::vector<int> touched;
  int64_t base = 0;
  for (int mh = 0; mh < mask_heads; ++mh) {
    const int32_t* ip = indptr + static_cast<size_t>(mh) * (S + 1);
    if (offsets) base = offsets[mh];
    if (ip[0] != 0) bad("head " + std::to_string(mh) + ": indptr does not start at 0");
    for (int qb = 0; qb < m.nqb; ++qb) {
      const int r0 = qb * qbs, r1 = std::min(S, r0 + qbs);
      touched.clear();
      for (int r = r0; r < r1; ++r) {
        if (ip[r + 1] < ip[r]) bad("head " + std::to_string(mh) + ": indptr decreases at row " + std::to_string(r));
        int prev = -1;
        for (int32_t e = ip[r]; e < ip[r + 1]; ++e) {
          const int c = indices[base + e];
          if (c < 0 || c >= S || c <= prev)
            bad("head " + std::to_string(mh) + ", row " + std::to_string(r) +
                ": column indices must be sorted, unique and in [0, seq_len)");
          prev = c;
          const int kb = c / kvb;
          if (cnt[kb]++ == 0) {
            touched.push_back(kb);
            above[kb] = 0;
          }
          if (c > r) above[kb] = 1;
        }
      }
      std::sort(touched.begin(), touched.end());
      bool any_partial = false;
      for (int kb : touched) {
        const int c0 = kb * kvb, c1 = std::min(S, c0 + kvb);
        const int64_t all = static_cast<int64_t>(r1 - r0) * (c1 - c0);
        int kind;
        if (cnt[kb] == all) {
          kind = kFull;
          ++m.full_blocks;
        } else if (detect_causal && !above[kb] && cnt[kb] == causal_count(r0, r1, c0, c1)) {
          kind = kCausal;
          ++m.causal_blocks;
        } else {
          kind = static_cast<int>(m.partial_blocks++);
          m.bitmasks.resize(m.bitmasks.size() + static_cast<size_t>(qbs) * words, 0u);
          any_partial = true;
        }
        kind_of[kb] = kind;
        m.entries.push_back(kb);
        m.entries.push_back(kind);
      }
      if (any_partial) {
        for (int r = r0; r < r1; ++r) {
          for (int32_t e = ip[r]; e < ip[r + 1]; ++e) {
            const int c = indices[base + e];
            const int kb = c / kvb;
            if (kind_of[kb] < 0) continue;
            const int cl = c - kb * kvb;
            m.bitmasks[(static_cast<size_t>(kind_of[kb]) * qbs + (r - r0)) * words + cl / 32] |= 1u << (cl % 32);
          }
        }
      }
      for (int kb : touched) cnt[kb] = 0;
      m.row_ptr.push_back(static_cast<int>(m.entries.size() / 2));
    }
    m.kept_elements += ip[S];
    if (!offsets) base += ip[S];
  }
  finish_block_mask(m);
  return m;
}

HostBlockMask block_mask_from_kinds(const int8_t* kinds, int mask_heads, int S, int qbs, int kvb) {
  check_shape(mask_heads, S, qbs, kvb);
  HostBlockMask m = empty_mask(mask_heads, S, qbs, kvb);
  for (int mh = 0; mh < mask_heads; ++mh) {
    for (int qb = 0; qb < m.nqb; ++qb) {
      const int r0 = qb * qbs, r1 = std::min(S, r0 + qbs);
      const int8_t* row = kinds + (static_cast<size_t>(mh) * m.nqb + qb) * m.nkb;
      for (int kb = 0; kb < m.nkb; ++kb) {
        if (row[kb] == 0) continue;
        const int c0 = kb * kvb, c1 = std::min(S, c0 + kvb);
        if (row[kb] == 1) {
          m.entries.push_back(kb);
          m.entries.push_back(kFull);
          ++m.full_blocks;
          m.kept_elements += static_cast<int64_t>(r1 - r0) * (c1 - c0);
        } else if (row[kb] == 2) {
          const int64_t n = causal_count(r0, r1, c0, c1);
          if (n == 0) continue;  // above the diagonal: nothing kept
          m.entries.push_back(kb);
          m.entries.push_back(kCausal);
          ++m.causal_blocks;
          m.kept_elements += n;
        } else {
          bad("block kind must be 0 (empty), 1 (full) or 2 (causal), got " + std::to_string(row[kb]));
        }
      }
      m.row_ptr.push_back(static_cast<int>(m.entries.size() / 2));
    }
  }
  finish_block_mask(m);
  return m;
}

}  // namespace bsa
}  // namespace gpu_ref
