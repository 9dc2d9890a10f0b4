#include "kernels/tile_shape.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace attnsim {

namespace {

// Σ_{t=lo}^{hi} clamp(t, 0, w), w >= 0: the sums of kept entries are sums of
// clamped linear functions of the row or key index.
int64_t clamp_sum(int64_t lo, int64_t hi, int64_t w) {
  auto prefix = [w](int64_t x) -> int64_t {  // Σ_{t=1}^{x} min(t, w)
    if (x <= 0) return 0;
    if (x <= w) return x * (x + 1) / 2;
    return w * (w + 1) / 2 + (x - w) * w;
  };
  return hi < lo ? 0 : prefix(hi) - prefix(lo - 1);
}

// Union of the intervals, clipped to [0, limit), merged (adjacent ones too).
std::vector<KeyInterval> merged(std::vector<KeyInterval> iv, int32_t limit) {
  for (auto& x : iv) x.begin = std::max(x.begin, 0), x.end = std::min(x.end, limit);
  std::sort(iv.begin(), iv.end(), [](const KeyInterval& a, const KeyInterval& b) { return a.begin < b.begin; });
  std::vector<KeyInterval> out;
  for (const auto& x : iv) {
    if (x.begin >= x.end) continue;
    if (!out.empty() && x.begin <= out.back().end)
      out.back().end = std::max(out.back().end, x.end);
    else
      out.push_back(x);
  }
  return out;
}

// First interval ending after key x.
std::vector<KeyInterval>::const_iterator first_after(const std::vector<KeyInterval>& keys, int64_t x) {
  return std::upper_bound(keys.begin(), keys.end(), x,
                          [](int64_t v, const KeyInterval& k) { return v < static_cast<int64_t>(k.end); });
}

// Calls emit(key block, kept entries) for rows [a, b) of group g (a block may
// come more than once). A key j in the group's intervals is kept by the rows
// i >= j; any other key by the rows j <= i <= j + band - 1: both counts are
// clamped linear in j, so each piece of a key block is one closed form.
template <class Emit>
void group_block_counts(const RowGroup& g, int64_t a, int64_t b, int block, Emit emit) {
  if (a >= b) return;
  const int64_t n = b - a, band = g.band;
  auto in_keys = [&](int64_t p, int64_t q) { return clamp_sum(b - q + 1, b - p, n); };
  auto in_band = [&](int64_t p, int64_t q) { return in_keys(p, q) - clamp_sum(b - band - q + 1, b - band - p, n); };
  auto piece = [&](int64_t p, int64_t q, bool keys) {
    for (int64_t x = p; x < q;) {
      const int64_t kb = x / block, y = std::min(q, (kb + 1) * block);
      emit(kb, keys ? in_keys(x, y) : in_band(x, y));
      x = y;
    }
  };
  for (const auto& k : g.keys) {
    if (k.begin >= b) break;
    piece(k.begin, std::min<int64_t>(k.end, b), true);
  }
  // The band's keys outside the intervals: the gaps of the intervals in [r0, b).
  int64_t x = std::max<int64_t>(0, a - band + 1);
  for (auto it = first_after(g.keys, x); it != g.keys.end() && it->begin < b; ++it) {
    if (it->begin > x) piece(x, it->begin, false);
    x = std::max<int64_t>(x, it->end);
  }
  if (x < b) piece(x, b, false);
}

// (key block, kept entries) of absolute rows [a, b), ascending, blocks with entries only.
std::vector<std::pair<int64_t, int64_t>> sparse_block_counts(const TileShape& s, int64_t a, int64_t b, int block) {
  std::vector<std::pair<int64_t, int64_t>> c;
  for (const auto& g : s.groups)
    group_block_counts(g, std::max<int64_t>(a, g.first), std::min<int64_t>(b, g.end), block,
                       [&](int64_t kb, int64_t v) {
                         if (v > 0) c.emplace_back(kb, v);
                       });
  std::sort(c.begin(), c.end());
  size_t w = 0;
  for (size_t t = 0; t < c.size(); ++t) {
    if (w > 0 && c[w - 1].first == c[t].first)
      c[w - 1].second += c[t].second;
    else
      c[w++] = c[t];
  }
  c.resize(w);
  return c;
}

// Appends group(s) for rows [first, end) keeping `keys` and `band`, merging
// with the previous group when it keeps the same.
void add_group(TileShape& s, int first, int end, std::vector<KeyInterval> keys, int32_t band) {
  if (first >= end) return;
  if (!s.groups.empty()) {
    RowGroup& p = s.groups.back();
    const bool same = p.end == first && p.band == band && p.keys.size() == keys.size() &&
                      std::equal(keys.begin(), keys.end(), p.keys.begin(), [](const KeyInterval& x, const KeyInterval& y) {
                        return x.begin == y.begin && x.end == y.end;
                      });
    if (same) {
      p.end = end;
      return;
    }
  }
  RowGroup g;
  g.first = first;
  g.end = end;
  g.keys = std::move(keys);
  g.band = band;
  s.groups.push_back(std::move(g));
}

// Rows [first, end) of pattern p as groups; false when p is not structured.
// Mirrors HeadPattern::row_keys: a layout wins over the kind.
bool add_pattern_rows(TileShape& s, const HeadPattern& p, int first, int end) {
  const int32_t seq = p.seq, block = p.block;
  std::vector<KeyInterval> iv;
  if (p.has_layout()) {  // MInference's block layout (a_shape, tri_shape, vertical_slash; block_sparse)
    const BlockLayout& L = p.layout();
    for (int r = first; r < end;) {
      const int m = r / block, r_end = std::min(end, (m + 1) * block);
      iv.clear();
      for (int t = L.block_ptr[m]; t < L.block_ptr[m + 1]; ++t) iv.push_back({L.block_offset[t], L.block_offset[t] + block});
      for (int t = L.column_ptr[m]; t < L.column_ptr[m + 1]; ++t) iv.push_back({L.column_index[t], L.column_index[t] + 1});
      add_group(s, r, r_end, merged(iv, seq), 1);
      r = r_end;
    }
    return true;
  }
  if (p.kind == "dense") {
    add_group(s, first, end, {{0, seq}}, 1);
  } else if (p.kind == "none") {
    add_group(s, first, end, {}, 1);
  } else if (p.kind == "a_shape" || p.kind == "tri_shape") {
    // Rows from seq - n_last attend densely (tri_shape).
    const int64_t last = p.kind == "tri_shape" ? static_cast<int64_t>(seq) - p.n_last : INT64_MAX;
    const int mid = static_cast<int>(std::clamp<int64_t>(last, first, end));
    std::vector<KeyInterval> init;
    if (p.n_init > 0) init.push_back({0, std::min(p.n_init, seq)});
    add_group(s, first, mid, init, std::max(1, p.n_local));
    add_group(s, mid, end, {{0, seq}}, 1);
  } else if (p.kind == "local_stride") {  // Phi-3-small: per row block, strided key blocks plus local blocks
    for (int r = first; r < end;) {
      const int qb = r / block, r_end = std::min(end, (qb + 1) * block);
      const int first_local = std::max(0, qb - p.local_blocks + 1);
      iv.clear();
      for (int kb = 0; kb < first_local; ++kb)
        if ((kb + p.head_shift) % p.vert_stride == 0) iv.push_back({kb * block, kb * block + block});
      iv.push_back({first_local * block, (qb + 1) * block});
      add_group(s, r, r_end, merged(iv, seq), 1);
      r = r_end;
    }
  } else {
    return false;  // grid, modality, exact vertical_slash: keys not intervals per group
  }
  return true;
}

}  // namespace

void RowGroup::row_intervals(int i, int32_t lo, int32_t hi, std::vector<KeyInterval>& out) const {
  out.clear();
  hi = std::min(hi, i + 1);
  const int32_t left = static_cast<int32_t>(std::max<int64_t>(0, static_cast<int64_t>(i) - band + 1));
  const int32_t k_end = std::min(hi, left);  // the intervals count below the band
  for (auto it = first_after(keys, lo); it != keys.end() && it->begin < k_end; ++it) {
    const KeyInterval k{std::max(it->begin, lo), std::min(it->end, k_end)};
    if (k.begin < k.end) out.push_back(k);
  }
  const int32_t b0 = std::max(left, lo);
  if (b0 < hi) {
    if (!out.empty() && out.back().end == b0)
      out.back().end = hi;
    else
      out.push_back({b0, hi});
  }
}

const RowGroup& TileShape::group_of(int i) const {
  auto it = std::upper_bound(groups.begin(), groups.end(), i, [](int v, const RowGroup& g) { return v < g.first; });
  if (it == groups.begin() || i >= (it - 1)->end) throw std::out_of_range("row " + std::to_string(i) + " outside the tile");
  return *(it - 1);
}

int64_t TileShape::nnz() const {
  // Row i keeps F(L) + i - L + 1 keys, L = max(0, i - band + 1), F(x) = |keys ∩ [0, x)|.
  int64_t n = 0;
  for (const auto& g : groups) {
    const int64_t a = g.first, b = g.end, band = g.band;
    const int64_t m = std::clamp<int64_t>(band, a, b);  // rows below m have L = 0: i + 1 keys
    n += (m * (m + 1) - a * (a + 1)) / 2;
    if (m < b) {
      n += (b - m) * band;
      for (const auto& k : g.keys)  // Σ_{x = m-band+1}^{b-band} |[k.begin, k.end) ∩ [0, x)|
        n += clamp_sum(m - band + 1 - k.begin, b - band - k.begin, k.end - k.begin);
    }
  }
  return n;
}

void TileShape::row_keys(int i, std::vector<int32_t>& out) const {
  thread_local std::vector<KeyInterval> iv;
  group_of(i).row_intervals(i, 0, i + 1, iv);
  out.clear();
  for (const auto& k : iv)
    for (int32_t j = k.begin; j < k.end; ++j) out.push_back(j);
}

CsrMask TileShape::enumerate() const {
  CsrMask m;
  m.cols = cols;
  std::vector<int32_t> keys;
  for (int r = 0; r < rows; ++r) {
    row_keys(row0 + r, keys);
    m.add_row(keys);
  }
  return m;
}

void TileShape::count_blocks(int row_begin, int row_end, int block, std::vector<int64_t>& counts) const {
  for (const auto& g : groups)
    group_block_counts(g, std::max<int64_t>(row0 + row_begin, g.first), std::min<int64_t>(row0 + row_end, g.end), block,
                       [&](int64_t kb, int64_t v) { counts[kb] += v; });
}

std::optional<TileShape> tile_shape(const MaskPlan& plan, int row0, int rows) {
  TileShape s;
  s.row0 = row0;
  s.rows = rows;
  s.cols = plan.by_query.at(0).seq;
  if (!plan.skip.empty() || row0 < 0 || rows < 0 || static_cast<int64_t>(row0) + rows > s.cols) return std::nullopt;
  const int end = row0 + rows;
  const bool per_modality = plan.by_query.size() != 1 && plan.segments;
  for (int r = row0; r < end;) {
    int r_end = end, qm = 0;
    if (per_modality) {  // one pattern per query modality: split at segment ends
      qm = plan.segments->modality(r);
      const Segment& seg = plan.segments->segment(plan.segments->segment_of(r));
      r_end = std::min(end, seg.start + seg.length);
    }
    const HeadPattern& p = plan.pattern_for(qm);
    if (p.seq != s.cols || !add_pattern_rows(s, p, r, r_end)) return std::nullopt;
    r = r_end;
  }
  return s;
}

TileShape dense_causal_shape(int row0, int rows, int cols) {
  if (row0 < 0 || rows < 0 || static_cast<int64_t>(row0) + rows > cols)
    throw std::invalid_argument("dense_causal_shape: rows outside [0, cols)");
  TileShape s;
  s.row0 = row0;
  s.rows = rows;
  s.cols = cols;
  add_group(s, row0, row0 + rows, {{0, cols}}, 1);
  return s;
}

BlockLabelCounts label_blocks(const TileShape& shape, int block) {
  // As label_blocks on the CSR: per row block, each visible key block is
  // EMPTY unless it has entries; those with entries are compared with the
  // causal entries allowed there.
  BlockLabelCounts c;
  if (shape.rows == 0) return c;
  const int64_t cols = shape.cols, nkb = (cols + block - 1) / block;
  const int row0 = shape.row0, rb_first = row0 / block, rb_last = (row0 + shape.rows - 1) / block;
  for (int rb = rb_first; rb <= rb_last; ++rb) {
    const int64_t r_begin = std::max(row0, rb * block), r_end = std::min(row0 + shape.rows, (rb + 1) * block);
    const int64_t visible = std::min<int64_t>(nkb, (std::min(r_end, cols) + block - 1) / block);
    int64_t touched = 0;
    for (auto [kb, kept] : sparse_block_counts(shape, r_begin, r_end, block)) {
      if (kb >= visible) continue;
      ++touched;
      const int64_t k0 = kb * block, width = std::min<int64_t>(block, cols - k0);
      const bool diagonal = (kb + 1) * block > r_begin + 1;  // some row sees only part of this key block
      int64_t allowed = (r_end - r_begin) * width;
      if (diagonal) {  // Σ_i clamp(min(i + 1, cols) - k0, 0, width)
        const int64_t below = std::min(r_end, cols);  // rows i < cols see keys up to i
        allowed = (below > r_begin ? clamp_sum(r_begin + 1 - k0, below - k0, width) : 0) +
                  (r_end - std::max(r_begin, below)) * std::clamp<int64_t>(cols - k0, 0, width);
      }
      if (kept == allowed)
        ++(diagonal ? c.causal : c.full);
      else
        ++c.partial;
    }
    c.empty += visible - touched;  // every visible key block allows some entry
  }
  return c;
}

int64_t needed_keys(const TileShape& shape, int block) {
  int64_t keys = 0;
  for (auto [kb, kept] : sparse_block_counts(shape, shape.row0, static_cast<int64_t>(shape.row0) + shape.rows, block))
    keys += std::min<int64_t>(block, shape.cols - kb * block);
  return keys;
}

}  // namespace attnsim
