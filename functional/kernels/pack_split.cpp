#include "kernels/pack_split.h"

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

}  // namespace attnsim
