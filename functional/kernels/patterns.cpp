#include "kernels/patterns.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace attnsim {

// ---------------------------------------------------------------- segments

SegmentMap::SegmentMap(std::vector<Segment> segments, int seq) : seq_(seq) {
  int pos = 0;
  for (auto& s : segments) {
    if (s.length <= 0) continue;
    s.start = pos;
    pos += s.length;
    int m = modality_index(s.kind);
    if (m < 0) {
      m = static_cast<int>(names_.size());
      names_.push_back(s.kind);
    }
    segment_modality_.push_back(m);
    segments_.push_back(s);
  }
  if (pos != seq)
    throw std::invalid_argument("segments cover " + std::to_string(pos) + " tokens, expected " + std::to_string(seq));
  modality_.resize(seq);
  segment_.resize(seq);
  for (size_t k = 0; k < segments_.size(); ++k)
    for (int t = segments_[k].start; t < segments_[k].start + segments_[k].length; ++t) {
      modality_[t] = static_cast<uint8_t>(segment_modality_[k]);
      segment_[t] = static_cast<int32_t>(k);
    }
}

SegmentMap SegmentMap::single(int seq, const std::string& kind) {
  Segment s;
  s.kind = kind;
  s.length = seq;
  return SegmentMap({s}, seq);
}

int SegmentMap::modality_index(const std::string& name) const {
  for (size_t m = 0; m < names_.size(); ++m)
    if (names_[m] == name) return static_cast<int>(m);
  return -1;
}

std::pair<int, int> SegmentMap::last_rows(int m, int n) const {
  for (size_t k = segments_.size(); k-- > 0;)
    if (segment_modality_[k] == m) {
      const auto& s = segments_[k];
      const int len = std::min(n, s.length);
      return {s.start + s.length - len, s.start + s.length};
    }
  return {0, 0};
}

bool SegmentMap::has_grid(int m) const {
  for (size_t k = 0; k < segments_.size(); ++k)
    if (segment_modality_[k] == m && segments_[k].is_grid()) return true;
  return false;
}

nlohmann::json SegmentMap::to_json() const {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& s : segments_) {
    nlohmann::json j = {{"kind", s.kind}, {"start", s.start}, {"tokens", s.length}};
    if (s.is_grid()) j["grid"] = {s.grid_h, s.grid_w};
    a.push_back(j);
  }
  return a;
}

// ---------------------------------------------------------------- layout

nlohmann::json BlockLayout::summary() const {
  return {{"block", block}, {"row_blocks", row_blocks}, {"key_blocks", blocks()}, {"columns", columns()}};
}

nlohmann::json BlockLayout::to_json() const {
  nlohmann::json bc = nlohmann::json::array(), bo = nlohmann::json::array(), cc = nlohmann::json::array(),
                 ci = nlohmann::json::array();
  for (int m = 0; m < row_blocks; ++m) {
    bc.push_back(block_ptr[m + 1] - block_ptr[m]);
    cc.push_back(column_ptr[m + 1] - column_ptr[m]);
    bo.push_back(std::vector<int32_t>(block_offset.begin() + block_ptr[m], block_offset.begin() + block_ptr[m + 1]));
    ci.push_back(
        std::vector<int32_t>(column_index.begin() + column_ptr[m], column_index.begin() + column_ptr[m + 1]));
  }
  return {{"block", block}, {"block_count", bc}, {"block_offset", bo}, {"column_count", cc}, {"column_index", ci}};
}

BlockLayout vertical_slash_layout(int seq, const std::vector<int32_t>& verticals, const std::vector<int32_t>& slashes,
                                  int block) {
  // Follows MInference's convert_vertical_slash_indexes (csrc/vertical_slash_index.cu),
  // causal, BLOCK_SIZE_M = BLOCK_SIZE_N = block; blocks at or beyond seq are not saved.
  BlockLayout L;
  L.block = block;
  L.row_blocks = (seq + block - 1) / block;
  const std::vector<int32_t> s_desc(slashes.rbegin(), slashes.rend());  // ascending key position
  const size_t ns = s_desc.size(), nv = verticals.size();
  auto save_blocks = [&](int range_start, int range_end) {
    for (int idx = range_start; idx < range_end; idx += block)
      if (idx < seq) L.block_offset.push_back(idx);
  };
  for (int m = 0; m < L.row_blocks; ++m) {
    const int end_m = (m + 1) * block;
    size_t s = 0, v = 0;
    while (s < ns && s_desc[s] >= end_m) ++s;
    if (s == ns) {  // no slash reaches this row block: verticals only
      for (int32_t c : verticals)
        if (c < end_m) L.column_index.push_back(c);
    } else {
      int s_idx = std::max(end_m - s_desc[s++], block);
      int range_start = s_idx - block, range_end = s_idx;
      int v_idx = v < nv ? verticals[v++] : end_m + block;
      while (true) {
        if (v_idx < range_end) {
          if (v_idx < range_start) L.column_index.push_back(v_idx);
          v_idx = v < nv ? verticals[v++] : end_m + block;
        } else {
          if (s < ns) {
            s_idx = std::max(end_m - s_desc[s++], block);
          } else {
            save_blocks(range_start, range_end);
            break;
          }
          if (s_idx > range_end + block) {
            save_blocks(range_start, range_end);
            range_start = s_idx - block;
            range_end = s_idx;
          } else if (s_idx > range_end) {
            range_end += block;
          }
        }
      }
    }
    L.block_ptr.push_back(static_cast<int32_t>(L.block_offset.size()));
    L.column_ptr.push_back(static_cast<int32_t>(L.column_index.size()));
  }
  return L;
}

namespace {

// Merged ranges, then `block`-wide blocks from each range's start (MInference's save_blocks).
void save_ranges_as_blocks(std::vector<std::pair<int32_t, int32_t>>& ranges, int seq, int block,
                           std::vector<int32_t>& offsets) {
  std::sort(ranges.begin(), ranges.end());
  int32_t a = -1, b = -1;
  auto flush = [&] {
    for (int32_t idx = a; idx < b; idx += block)
      if (idx < seq) offsets.push_back(idx);
  };
  for (auto [x, y] : ranges) {
    x = std::max(x, 0);
    if (x >= y) continue;
    if (a < 0) {
      a = x, b = y;
    } else if (x <= b) {  // overlapping or adjacent: extend by whole blocks
      while (b < y) b += block;
    } else {
      flush();
      a = x, b = y;
    }
  }
  if (a >= 0) flush();
}

}  // namespace

void merge_ranges_and_columns(std::vector<std::pair<int32_t, int32_t>>& ranges, const int32_t* cols, size_t ncols,
                              int32_t limit, std::vector<int32_t>& out) {
  std::sort(ranges.begin(), ranges.end());
  out.clear();
  size_t c = 0;
  int32_t covered = 0;  // keys below this are decided
  auto push_col = [&](int32_t x) {
    if (x >= covered && x < limit && (out.empty() || out.back() < x)) out.push_back(x);
  };
  for (auto [a, b] : ranges) {
    a = std::max(a, covered);
    b = std::min(b, limit);
    if (a >= b) continue;
    while (c < ncols && cols[c] < a) push_col(cols[c++]);
    const int32_t from = std::max(a, out.empty() ? a : out.back() + 1);
    if (from < b) {
      const size_t n = out.size();
      out.resize(n + (b - from));
      std::iota(out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), from);
    }
    covered = b;
    while (c < ncols && cols[c] < b) ++c;
  }
  while (c < ncols && cols[c] < limit) push_col(cols[c++]);
}

// ---------------------------------------------------------------- patterns

void HeadPattern::prepare() {
  layout_.reset();
  const int nb = (seq + block - 1) / block;
  if (kind == "vertical_slash" && block_granular) {
    layout_ = std::make_shared<BlockLayout>(vertical_slash_layout(seq, verticals, slashes, block));
  } else if ((kind == "a_shape" || kind == "tri_shape") && block_granular) {
    auto L = std::make_shared<BlockLayout>();
    L->block = block;
    L->row_blocks = nb;
    std::vector<std::pair<int32_t, int32_t>> ranges;
    for (int m = 0; m < nb; ++m) {
      const int start_m = m * block, end_m = start_m + block;
      ranges.clear();
      if (kind == "tri_shape" && end_m > seq - n_last) {
        ranges.emplace_back(0, end_m);
      } else {
        if (n_init > 0) ranges.emplace_back(0, n_init);
        ranges.emplace_back(start_m - n_local + 1, end_m);
      }
      save_ranges_as_blocks(ranges, seq, block, L->block_offset);
      L->block_ptr.push_back(static_cast<int32_t>(L->block_offset.size()));
      L->column_ptr.push_back(0);
    }
    layout_ = L;
  } else if (kind == "block_sparse") {
    auto L = std::make_shared<BlockLayout>();
    L->block = block;
    L->row_blocks = nb;
    for (int m = 0; m < nb; ++m) {
      if (m < static_cast<int>(key_blocks.size()))
        for (int32_t kb : key_blocks[m])
          if (kb <= m) L->block_offset.push_back(kb * block);
      L->block_ptr.push_back(static_cast<int32_t>(L->block_offset.size()));
      L->column_ptr.push_back(0);
    }
    layout_ = L;
  }
}

void HeadPattern::row_keys(int i, std::vector<int32_t>& out) const {
  thread_local std::vector<std::pair<int32_t, int32_t>> ranges;
  thread_local std::vector<int32_t> cols, tmp;
  ranges.clear();
  cols.clear();
  const int32_t limit = std::min(i + 1, seq);
  if (layout_) {
    const int m = i / block;
    const auto& L = *layout_;
    for (int t = L.block_ptr[m]; t < L.block_ptr[m + 1]; ++t)
      ranges.emplace_back(L.block_offset[t], L.block_offset[t] + block);
    merge_ranges_and_columns(ranges, L.column_index.data() + L.column_ptr[m], L.column_ptr[m + 1] - L.column_ptr[m],
                             limit, out);
    return;
  }
  if (kind == "dense" || (kind == "tri_shape" && i >= seq - n_last)) {
    ranges.emplace_back(0, limit);
  } else if (kind == "a_shape" || kind == "tri_shape" || kind == "grid") {
    if (n_init > 0) ranges.emplace_back(0, n_init);
    ranges.emplace_back(i - n_local + 1, i + 1);
    if (kind == "grid" && segments) {
      const Segment& s = segments->segment(segments->segment_of(i));
      if (s.is_grid()) {
        for (int j = i - s.grid_w; j >= s.start; j -= s.grid_w) cols.push_back(j);
        std::reverse(cols.begin(), cols.end());
      }
    }
  } else if (kind == "vertical_slash") {
    tmp.clear();
    for (auto it = slashes.rbegin(); it != slashes.rend(); ++it)
      if (*it <= i) tmp.push_back(i - *it);
    const auto vend = std::upper_bound(verticals.begin(), verticals.end(), i);
    cols.resize(tmp.size() + static_cast<size_t>(vend - verticals.begin()));
    std::merge(tmp.begin(), tmp.end(), verticals.begin(), vend, cols.begin());
  } else if (kind == "local_stride") {
    const int qb = i / block;
    const int first_local = std::max(0, qb - local_blocks + 1);
    for (int kb = 0; kb < first_local; ++kb)
      if ((kb + head_shift) % vert_stride == 0) ranges.emplace_back(kb * block, kb * block + block);
    ranges.emplace_back(first_local * block, (qb + 1) * block);
  } else if (kind == "modality" && segments) {
    const int M = segments->modalities();
    const int qm = segments->modality(i), qs = segments->segment_of(i);
    for (int s = 0; s <= qs; ++s) {
      const Segment& seg = segments->segment(s);
      const uint8_t rule = modality_rule[qm * M + segments->segment_modality(s)];
      if (rule == 1 || (rule == 2 && s == qs)) ranges.emplace_back(seg.start, seg.start + seg.length);
    }
  } else if (kind != "none") {
    throw std::logic_error("unknown pattern kind '" + kind + "'");
  }
  merge_ranges_and_columns(ranges, cols.data(), cols.size(), limit, out);
}

nlohmann::json HeadPattern::to_json(bool indices) const {
  nlohmann::json j = {{"pattern", kind}};
  const bool granular = kind == "a_shape" || kind == "tri_shape" || kind == "vertical_slash";
  if (granular) j["granularity"] = block_granular ? "block" : "exact";
  if (kind == "a_shape" || kind == "tri_shape" || kind == "grid") {
    j["n_init"] = n_init;
    j["n_local"] = n_local;
  }
  if (kind == "tri_shape") j["n_last"] = n_last;
  if (kind == "vertical_slash") {
    j["vertical_size"] = verticals.size();
    j["slash_size"] = slashes.size();
    if (indices) {
      j["verticals"] = verticals;
      j["slashes"] = slashes;
    }
  }
  if (kind == "block_sparse") {
    size_t k = 0;
    for (const auto& b : key_blocks) k = std::max(k, b.size());
    j["block"] = block;
    j["block_topk"] = k;
    if (indices) j["key_blocks"] = key_blocks;
  }
  if (kind == "grid" && segments) {
    std::vector<int> strides;
    for (const auto& s : segments->segments())
      if (s.is_grid() && std::find(strides.begin(), strides.end(), s.grid_w) == strides.end())
        strides.push_back(s.grid_w);
    j["strides"] = strides;
  }
  if (kind == "local_stride") {
    j["block"] = block;
    j["local_blocks"] = local_blocks;
    j["vert_stride"] = vert_stride;
    j["head_shift"] = head_shift;
  }
  if (layout_ && layout_->row_blocks > 0) j["layout"] = indices ? layout_->to_json() : layout_->summary();
  return j;
}

// ---------------------------------------------------------------- mask plan

const HeadPattern& MaskPlan::pattern_for(int query_modality) const {
  return by_query.size() == 1 ? by_query[0] : by_query.at(query_modality);
}

void MaskPlan::row_keys(int i, std::vector<int32_t>& out) const {
  const int qm = segments ? segments->modality(i) : 0;
  pattern_for(qm).row_keys(i, out);
  if (!skip.empty() && segments) {
    const auto& sk = skip[qm];
    size_t w = 0;
    for (size_t t = 0; t < out.size(); ++t)
      if (!sk[segments->modality(out[t])]) out[w++] = out[t];
    out.resize(w);
  }
  if (out.empty() || out.back() != i) out.push_back(i);  // keys are <= i: the diagonal goes last
}

CsrMask MaskPlan::mask(int row0, int rows) const {
  CsrMask m;
  m.cols = by_query.at(0).seq;
  std::vector<int32_t> keys;
  for (int r = 0; r < rows; ++r) {
    row_keys(row0 + r, keys);
    m.add_row(keys);
  }
  return m;
}

int64_t MaskPlan::count_nnz() const {
  std::vector<int32_t> keys;
  int64_t n = 0;
  for (int i = 0; i < by_query.at(0).seq; ++i) {
    row_keys(i, keys);
    n += static_cast<int64_t>(keys.size());
  }
  return n;
}

BlockLabelCounts label_blocks(const CsrMask& mask, int row0, int block) {
  BlockLabelCounts c;
  if (mask.rows == 0) return c;
  const int nkb = (mask.cols + block - 1) / block;
  const int rb_first = row0 / block, rb_last = (row0 + mask.rows - 1) / block;
  std::vector<int64_t> kept(nkb);
  for (int rb = rb_first; rb <= rb_last; ++rb) {
    const int r_begin = std::max(row0, rb * block), r_end = std::min(row0 + mask.rows, (rb + 1) * block);
    std::fill(kept.begin(), kept.end(), 0);
    mask.count_blocks(r_begin - row0, r_end - row0, block, kept);
    // Causal entries of rows [r_begin, r_end) in key block kb: all of its
    // columns for the rows past it, the rows' prefixes on the diagonal.
    auto allowed = [&](int kb) {
      const int64_t k0 = static_cast<int64_t>(kb) * block, width = std::min<int64_t>(block, mask.cols - k0);
      int64_t n = 0;
      for (int i = r_begin; i < r_end; ++i) n += std::clamp<int64_t>(std::min<int64_t>(i + 1, mask.cols) - k0, 0, width);
      return n;
    };
    const int visible = std::min(nkb, static_cast<int>((std::min(r_end, mask.cols) + block - 1) / block));
    for (int kb = 0; kb < visible; ++kb) {
      const bool diagonal = (kb + 1) * block > r_begin + 1;  // some row sees only part of this key block
      const int64_t a = diagonal ? allowed(kb) : static_cast<int64_t>(r_end - r_begin) * std::min<int64_t>(block, mask.cols - static_cast<int64_t>(kb) * block);
      if (a == 0) continue;
      if (kept[kb] == 0)
        ++c.empty;
      else if (kept[kb] == a)
        ++(diagonal ? c.causal : c.full);
      else
        ++c.partial;
    }
  }
  return c;
}

}  // namespace attnsim
