#include "kernels/pack_split.h"

#include <algorithm>
#include <numeric>

#include "kernels/tile_shape.h"

namespace attnsim {

double PackSplitSchedule::pe_utilisation() const {
  return subrows ? static_cast<double>(nnz) / pes_per_row / static_cast<double>(subrows) : 0.0;
}

PackSplitSchedule pack_split(const CsrMask& mask, int segment_width, int pes_per_row) {
  PackSplitSchedule s;
  s.segment_width = segment_width;
  s.pes_per_row = pes_per_row;
  const int n_seg = (mask.cols + segment_width - 1) / segment_width;
  s.segments.resize(n_seg);
  for (int g = 0; g < n_seg; ++g) s.segments[g].segment = g;
  s.row_segments = static_cast<int64_t>(mask.rows) * n_seg;
  for (int r = 0; r < mask.rows; ++r) {
    int t = mask.indptr[r];
    const int end = mask.indptr[r + 1];
    while (t < end) {  // one segment of row r per iteration
      const int g = mask.indices[t] / segment_width;
      const int seg_end = mask.block_end(r, t, segment_width);
      for (int a = t; a < seg_end; a += pes_per_row) {
        SubRow sr;
        sr.row = r;
        sr.idx_begin = a;
        sr.nnz = std::min(pes_per_row, seg_end - a);
        sr.first_col = mask.indices[a] - g * segment_width;
        sr.last_col = mask.indices[a + sr.nnz - 1] - g * segment_width;
        s.segments[g].subrows.push_back(sr);
        ++s.subrows;
      }
      s.nnz += seg_end - t;
      --s.skipped_row_segments;
      t = seg_end;
    }
  }
  s.skipped_row_segments += s.row_segments;
  std::vector<SegmentWork> kept;
  for (auto& w : s.segments)
    if (!w.subrows.empty()) kept.push_back(std::move(w));
  s.segments = std::move(kept);
  return s;
}

namespace {

// A row's keys in one segment (merged intervals) -> its sub-rows of at most
// pes_per_row nonzeros, as pack_split on the CSR makes them.
void split_subrows(const std::vector<KeyInterval>& iv, int c0, int pes_per_row, int32_t row,
                   std::vector<SubRow>& out) {
  out.clear();
  size_t t = 0;
  int32_t pos = iv.empty() ? 0 : iv[0].begin;
  while (t < iv.size()) {
    SubRow sr;
    sr.row = row;
    sr.idx_begin = -1;
    sr.first_col = pos - c0;
    int need = pes_per_row;
    int32_t last = pos;
    while (need > 0 && t < iv.size()) {
      const int take = std::min<int>(need, iv[t].end - pos);
      last = pos + take - 1;
      pos += take;
      need -= take;
      if (pos == iv[t].end && ++t < iv.size()) pos = iv[t].begin;
    }
    sr.nnz = pes_per_row - need;
    sr.last_col = last - c0;
    out.push_back(sr);
  }
}

bool same_subrows(const std::vector<SubRow>& a, const std::vector<SubRow>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const SubRow& x, const SubRow& y) {
    return x.nnz == y.nnz && x.first_col == y.first_col && x.last_col == y.last_col;
  });
}

// max over run positions u in [u0, u1) of off + u + last_col[u mod k]: with
// at least k positions, only each residue's last position can be the max.
int64_t window_skew(const SubRowRun& run, int64_t u0, int64_t u1, int64_t off) {
  const int64_t k = static_cast<int64_t>(run.subrows.size());
  int64_t m = 0;
  if (u1 - u0 >= k) {
    for (int64_t j = 0; j < k; ++j) m = std::max(m, off + u1 - 1 - (u1 - 1 - j) % k + run.subrows[j].last_col);
  } else {
    for (int64_t u = u0; u < u1; ++u) m = std::max(m, off + u + run.subrows[u % k].last_col);
  }
  return m;
}

}  // namespace

PackSplitSchedule pack_split(const TileShape& shape, int segment_width, int pes_per_row) {
  PackSplitSchedule s;
  s.segment_width = segment_width;
  s.pes_per_row = pes_per_row;
  const int W = segment_width, n_seg = (shape.cols + W - 1) / W;
  s.row_segments = static_cast<int64_t>(shape.rows) * n_seg;
  std::vector<CompactSegment> segs(n_seg);
  int64_t kept = 0;  // row segments with entries
  std::vector<KeyInterval> iv;
  std::vector<SubRow> sub;
  // Rows [i, i + count) keep iv in segment g.
  auto emit = [&](int g, int64_t i, int64_t count) {
    if (count <= 0 || iv.empty()) return;
    const int32_t row = static_cast<int32_t>(i - shape.row0);
    split_subrows(iv, g * W, pes_per_row, row, sub);
    int64_t nnz = 0;
    for (const auto& r : sub) nnz += r.nnz;
    s.nnz += nnz * count;
    s.subrows += static_cast<int64_t>(sub.size()) * count;
    kept += count;
    auto& runs = segs[g].runs;
    if (!runs.empty() && runs.back().subrows[0].row + runs.back().repeat == row && same_subrows(runs.back().subrows, sub))
      runs.back().repeat += count;
    else
      runs.push_back({sub, count});
  };
  std::vector<std::pair<int64_t, int64_t>> touched;  // segment ranges [g0, g1]
  for (const auto& grp : shape.groups) {
    const int64_t a = grp.first, b = grp.end, band = grp.band;
    if (a >= b) continue;
    // Only the segments some row touches: the intervals' below b, the band's.
    touched.clear();
    for (const auto& k : grp.keys) {
      if (k.begin >= b) break;
      touched.emplace_back(k.begin / W, (std::min<int64_t>(k.end, b) - 1) / W);
    }
    touched.emplace_back(std::max<int64_t>(0, a - band + 1) / W, (b - 1) / W);
    std::sort(touched.begin(), touched.end());
    int64_t next = 0;  // segments below this are done
    for (auto [g0, g1] : touched) {
      for (int64_t g = std::max(g0, next); g <= g1; ++g) {
        const int64_t c0 = g * W, c1 = std::min<int64_t>(c0 + W, shape.cols);
        auto per_row = [&](int64_t from, int64_t to) {
          for (int64_t i = std::max(a, from); i < std::min(b, to); ++i) {
            grp.row_intervals(static_cast<int>(i), static_cast<int32_t>(c0), static_cast<int32_t>(c1), iv);
            emit(static_cast<int>(g), i, 1);
          }
        };
        auto constant = [&](int64_t from, int64_t to) {
          from = std::max(a, from), to = std::min(b, to);
          if (from >= to) return;
          grp.row_intervals(static_cast<int>(from), static_cast<int32_t>(c0), static_cast<int32_t>(c1), iv);
          emit(static_cast<int>(g), from, to - from);
        };
        // Rows in row order: i < c0 keep nothing here; c0 <= i < c1 - 1 are
        // clipped causally inside the segment; from c1 - 1 on, the band's left
        // edge L = i - band + 1 decides: L <= c0 the whole segment, L inside
        // it per row, L >= c1 the intervals only.
        const int64_t from = std::max(c0, c1 - 1);
        per_row(c0, from);
        constant(from, c0 + band);
        per_row(std::max(from, c0 + band), c1 + band - 1);
        constant(std::max(from, c1 + band - 1), b);
      }
      next = std::max(next, g1 + 1);
    }
  }
  s.skipped_row_segments = s.row_segments - kept;
  for (auto& c : segs)
    if (!c.runs.empty()) {
      c.segment = static_cast<int>(&c - segs.data());
      s.compact.push_back(std::move(c));
    }
  return s;
}

PassTotals pass_totals(const PackSplitSchedule& s, int array_rows) {
  PassTotals t;
  const int64_t A = array_rows;
  for (const auto& seg : s.segments) {
    const int64_t n = static_cast<int64_t>(seg.subrows.size());
    for (int64_t first = 0; first < n; first += A) {
      int64_t skew = 0;
      for (int64_t r = 0; r < std::min(A, n - first); ++r) skew = std::max<int64_t>(skew, r + seg.subrows[first + r].last_col);
      t.skew_sum += skew;
      ++t.passes;
    }
    for (const auto& sr : seg.subrows) t.bubbles += sr.bubbles();
  }
  for (const auto& seg : s.compact) {
    const auto& runs = seg.runs;
    std::vector<int64_t> len(runs.size());
    int64_t total = 0;
    for (size_t r = 0; r < runs.size(); ++r) {
      len[r] = static_cast<int64_t>(runs[r].subrows.size()) * runs[r].repeat;
      total += len[r];
      for (const auto& sr : runs[r].subrows) t.bubbles += static_cast<int64_t>(sr.bubbles()) * runs[r].repeat;
    }
    std::vector<int64_t> cycle;
    size_t r = 0;
    int64_t base = 0;  // position of run r's first sub-row in the segment
    for (int64_t ps = 0; ps < total;) {  // ps: the pass's first sub-row
      while (base + len[r] <= ps) base += len[r++];
      if (ps + A <= base + len[r]) {
        // Passes wholly inside run r: a pass's skew depends only on its phase
        // (ps - base) mod k, which repeats every k / gcd(A, k) passes.
        const int64_t k = static_cast<int64_t>(runs[r].subrows.size());
        const int64_t inside = (base + len[r] - ps) / A, period = k / std::gcd(A, k);
        cycle.assign(static_cast<size_t>(std::min(period, inside)), 0);
        for (size_t m = 0; m < cycle.size(); ++m) {
          const int64_t u0 = ps + static_cast<int64_t>(m) * A - base;
          cycle[m] = window_skew(runs[r], u0, u0 + A, -u0);
        }
        const int64_t cycle_sum = std::accumulate(cycle.begin(), cycle.end(), int64_t{0});
        t.skew_sum += inside / period * cycle_sum +
                      std::accumulate(cycle.begin(), cycle.begin() + inside % period, int64_t{0});
        t.passes += inside;
        ps += inside * A;
        continue;
      }
      // A pass across run ends (or the segment's last): each run's part.
      const int64_t we = std::min(ps + A, total);
      int64_t skew = 0;
      int64_t qb = base;
      for (size_t q = r; q < runs.size() && qb < we; qb += len[q++]) {
        const int64_t u0 = std::max(ps, qb) - qb, u1 = std::min(we, qb + len[q]) - qb;
        skew = std::max(skew, window_skew(runs[q], u0, u1, qb - ps));
      }
      t.skew_sum += skew;
      ++t.passes;
      ps = we;
    }
  }
  return t;
}

}  // namespace attnsim
