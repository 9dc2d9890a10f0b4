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
  // Per mask head, its heaviest q-blocks first (longest-processing-time order over the waves of CTAs), the heads
  // in turn: CTAs running together share a head's K/V in L2 (sorting across heads mixed them: at 5 % density and
  // S = 32k the K/V reads then went to DRAM).
  m.order.resize(items);
  std::iota(m.order.begin(), m.order.end(), 0);
  std::stable_sort(m.order.begin(), m.order.end(), [&](int a, int b) {
    if (a / m.nqb != b / m.nqb) return a / m.nqb < b / m.nqb;
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

HostBlockMask merge_q_blocks(const HostBlockMask& m) {
  if (m.q_block != 64) bad("merge_q_blocks takes a mask of 64-row q-blocks, got " + std::to_string(m.q_block));
  const int S = m.seq_len, kvb = m.kv_block, words = kvb / 32;
  HostBlockMask out = empty_mask(m.mask_heads, S, 128, kvb);
  out.kept_elements = m.kept_elements;
  // kind of each half (64-row q-block) per kv block: 0 not listed, else the entry's kind + 3 (FULL 2, CAUSAL 1,
  // PARTIAL >= 3)
  std::vector<int> half_kind[2] = {std::vector<int>(m.nkb, 0), std::vector<int>(m.nkb, 0)};
  std::vector<int> touched;
  for (int mh = 0; mh < m.mask_heads; ++mh) {
    for (int qb = 0; qb < out.nqb; ++qb) {
      touched.clear();
      int rows[2][2];  // [half] {first row, end row}; an absent half (past seq_len) has no rows
      for (int half = 0; half < 2; ++half) {
        const int src = 2 * qb + half;
        rows[half][0] = std::min(S, src * 64);
        rows[half][1] = std::min(S, src * 64 + 64);
        if (src >= m.nqb) continue;
        const int it = mh * m.nqb + src;
        for (int e = m.row_ptr[it]; e < m.row_ptr[it + 1]; ++e) {
          const int kb = m.entries[2 * e];
          if (!half_kind[0][kb] && !half_kind[1][kb]) touched.push_back(kb);
          half_kind[half][kb] = m.entries[2 * e + 1] + 3;
        }
      }
      std::sort(touched.begin(), touched.end());
      for (int kb : touched) {
        const int c0 = kb * kvb, c1 = std::min(S, c0 + kvb);
        bool full = true, causal = true, any = false;
        for (int half = 0; half < 2; ++half) {
          const int r0 = rows[half][0], r1 = rows[half][1];
          if (r0 == r1) continue;  // past seq_len: no constraint
          const bool below = c1 - 1 <= r0, above = c0 > r1 - 1;  // the block against this half's diagonal
          int k = half_kind[half][kb];
          if (k == kCausal + 3 && (below || above)) k = below ? kFull + 3 : 0;  // what CAUSAL keeps there
          half_kind[half][kb] = k;
          any = any || k != 0;
          full = full && k == kFull + 3;
          // the causal restriction of rows [r0, r1) x cols [c0, c1): all kept below the diagonal, none above
          causal = causal && (below ? k == kFull + 3 : (above ? k == 0 : k == kCausal + 3));
        }
        if (!any) continue;  // only CAUSAL halves above their diagonal: nothing kept
        int kind;
        if (full) {
          kind = kFull;
          ++out.full_blocks;
        } else if (causal) {
          kind = kCausal;
          ++out.causal_blocks;
        } else {
          kind = static_cast<int>(out.partial_blocks++);
          out.bitmasks.resize(out.bitmasks.size() + static_cast<size_t>(128) * words, 0u);
          uint32_t* bits = out.bitmasks.data() + static_cast<size_t>(kind) * 128 * words;
          for (int half = 0; half < 2; ++half) {
            const int k = half_kind[half][kb];
            for (int r = rows[half][0]; r < rows[half][1]; ++r) {
              uint32_t* row = bits + static_cast<size_t>(r - qb * 128) * words;
              if (k >= 3) {  // PARTIAL: the half's own bits
                const uint32_t* src = m.bitmasks.data() + (static_cast<size_t>(k - 3) * 64 + (r - rows[half][0])) * words;
                std::copy(src, src + words, row);
              } else if (k != 0) {  // FULL (every column in range) or CAUSAL (columns <= r)
                const int last = k == kFull + 3 ? c1 - 1 : std::min(c1 - 1, r);
                for (int c = c0; c <= last; ++c) row[(c - c0) / 32] |= 1u << ((c - c0) % 32);
              }
            }
          }
        }
        out.entries.push_back(kb);
        out.entries.push_back(kind);
      }
      for (int kb : touched) half_kind[0][kb] = half_kind[1][kb] = 0;
      out.row_ptr.push_back(static_cast<int>(out.entries.size() / 2));
    }
  }
  finish_block_mask(out);
  return out;
}

}  // namespace bsa
}  // namespace gpu_ref
