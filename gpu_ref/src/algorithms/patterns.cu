#include "algorithms/patterns.cuh"

#include <algorithm>
#include <climits>

namespace gpu_ref {

const char* pattern_name(PatternKind k) {
  switch (k) {
    case kDense: return "dense";
    case kAShape: return "a_shape";
    case kTriShape: return "tri_shape";
    case kGrid: return "grid";
    case kBlockSparse: return "block_sparse";
    case kVerticalSlash: return "vertical_slash";
  }
  return "?";
}

std::pair<int, int> Segments::last_rows(int m, int n) const {
  for (size_t k = segments.size(); k-- > 0;)
    if (segments[k].modality == m) {
      const int len = std::min(n, segments[k].length);
      return {segments[k].start + segments[k].length - len, segments[k].start + segments[k].length};
    }
  return {0, 0};
}

bool Segments::has_grid(int m) const {
  for (const auto& s : segments)
    if (s.modality == m && s.grid_w > 0) return true;
  return false;
}

int Segments::max_grid_width() const {
  int w = 0;
  for (const auto& s : segments) w = std::max(w, s.grid_w);
  return w;
}

namespace {

constexpr int kThreads = 128;
unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::max<int64_t>(1, (n + kThreads - 1) / kThreads)); }

// ---- block layouts (one thread per row block) --------------------------------------

// Writes (pass 2) or counts (pass 1: out == nullptr) into a row block's slots.
struct Slots {
  int* out = nullptr;
  int n = 0;
  __device__ void push(int x) {
    if (out) out[n] = x;
    ++n;
  }
};

// MInference's convert_vertical_slash_indexes for row block m (causal,
// BLOCK_SIZE_M = BLOCK_SIZE_N = block; blocks at or beyond seq not saved):
// slash offset o covers keys [start_m - o, end_m - o); slashes visited
// nearest-key first; a slash range ending more than a block past the current
// range starts a new one, one ending past it grows the range by a block.
__device__ void vertical_slash_row_block(const PatternView& p, int m, Slots& blocks, Slots& cols) {
  const int block = p.block, end_m = (m + 1) * block;
  auto s_desc = [&](int x) { return p.slashes[p.ns - 1 - x]; };  // descending offset = ascending key
  auto save = [&](int a, int b) {
    for (int idx = a; idx < b; idx += block)
      if (idx < p.seq) blocks.push(idx);
  };
  int s = 0, v = 0;
  while (s < p.ns && s_desc(s) >= end_m) ++s;
  if (s == p.ns) {
    for (int t = 0; t < p.nv; ++t)
      if (p.verticals[t] < end_m) cols.push(p.verticals[t]);
    return;
  }
  int s_idx = max(end_m - s_desc(s++), block);
  int range_start = s_idx - block, range_end = s_idx;
  int v_idx = v < p.nv ? p.verticals[v++] : end_m + block;
  while (true) {
    if (v_idx < range_end) {
      if (v_idx < range_start) cols.push(v_idx);
      v_idx = v < p.nv ? p.verticals[v++] : end_m + block;
    } else {
      if (s < p.ns) {
        s_idx = max(end_m - s_desc(s++), block);
      } else {
        save(range_start, range_end);
        break;
      }
      if (s_idx > range_end + block) {
        save(range_start, range_end);
        range_start = s_idx - block;
        range_end = s_idx;
      } else if (s_idx > range_end) {
        range_end += block;
      }
    }
  }
}

// A-shape / Tri-shape: the sink range and the local window of the row block
// (Tri-shape's dense tail: everything up to the block's end), merged, then
// saved as block-wide blocks from each range's start.
__device__ void a_tri_row_block(const PatternView& p, int m, Slots& blocks) {
  const int block = p.block, start_m = m * block, end_m = start_m + block;
  int xs[2], ys[2], n = 0;
  if (p.kind == kTriShape && end_m > p.seq - p.n_last) {
    xs[n] = 0, ys[n++] = end_m;
  } else {
    if (p.n_init > 0) xs[n] = 0, ys[n++] = p.n_init;
    xs[n] = start_m - p.n_local + 1, ys[n++] = end_m;
  }
  if (n == 2 && (xs[1] < xs[0] || (xs[1] == xs[0] && ys[1] < ys[0]))) {
    const int tx = xs[0], ty = ys[0];
    xs[0] = xs[1], ys[0] = ys[1], xs[1] = tx, ys[1] = ty;
  }
  int a = -1, b = -1;
  auto flush = [&] {
    for (int idx = a; idx < b; idx += block)
      if (idx < p.seq) blocks.push(idx);
  };
  for (int r = 0; r < n; ++r) {
    const int x = max(xs[r], 0), y = ys[r];
    if (x >= y) continue;
    if (a < 0) {
      a = x, b = y;
    } else if (x <= b) {
      while (b < y) b += block;
    } else {
      flush();
      a = x, b = y;
    }
  }
  if (a >= 0) flush();
}

__global__ void layout_kernel(PatternView p, int row_blocks, const int* __restrict__ key_block_ptr,
                              const int* __restrict__ key_blocks, int* __restrict__ block_count,
                              int* __restrict__ column_count, const int* __restrict__ block_ptr,
                              int* __restrict__ block_offset, const int* __restrict__ column_ptr,
                              int* __restrict__ column_index) {
  const int m = blockIdx.x * blockDim.x + threadIdx.x;
  if (m >= row_blocks) return;
  const bool fill = block_ptr != nullptr;
  Slots blocks{fill ? block_offset + block_ptr[m] : nullptr, 0};
  Slots cols{fill ? column_index + column_ptr[m] : nullptr, 0};
  if (p.kind == kVerticalSlash) {
    vertical_slash_row_block(p, m, blocks, cols);
  } else if (p.kind == kAShape || p.kind == kTriShape) {
    a_tri_row_block(p, m, blocks);
  } else if (p.kind == kBlockSparse) {
    for (int t = key_block_ptr[m]; t < key_block_ptr[m + 1]; ++t)
      if (key_blocks[t] <= m) blocks.push(key_blocks[t] * p.block);
  }
  if (!fill) {
    block_count[m] = blocks.n;
    column_count[m] = cols.n;
  }
}

// ---- the keys of a row -------------------------------------------------------------

// Sorted unique keys from ascending ranges [a, b) and an ascending column
// stream, below `limit` (the simulator's merge_ranges_and_columns).
struct KeyMerge {
  int limit, covered = 0, last = -1;
  template <class Emit>
  __device__ void column(int x, Emit& emit) {
    if (x >= covered && x < limit && last < x) emit(last = x);
  }
  // cols: .cur() (INT_MAX when done) and .next()
  template <class Cols, class Emit>
  __device__ void range(int a, int b, Cols& cols, Emit& emit) {
    a = max(a, covered);
    b = min(b, limit);
    if (a >= b) return;
    while (cols.cur() < a) column(cols.cur(), emit), cols.next();
    for (int j = max(a, last + 1); j < b; ++j) emit(last = j);
    covered = b;
    while (cols.cur() < b) cols.next();
  }
  template <class Cols, class Emit>
  __device__ void finish(Cols& cols, Emit& emit) {
    while (cols.cur() < limit) column(cols.cur(), emit), cols.next();
  }
};

struct NoColumns {
  __device__ int cur() const { return INT_MAX; }
  __device__ void next() {}
};
struct ArrayColumns {
  const int* x;
  int n, t = 0;
  __device__ int cur() const { return t < n ? x[t] : INT_MAX; }
  __device__ void next() { ++t; }
};
// Exact vertical-slash: keys i - o of the slashes (o <= i, nearest last) merged with the verticals <= i.
struct VerticalSlashColumns {
  const int *v, *s;
  int nv, ns, i, tv = 0, ts;
  __device__ VerticalSlashColumns(const int* v_, int nv_, const int* s_, int ns_, int i_)
      : v(v_), s(s_), nv(nv_), ns(ns_), i(i_), ts(ns_ - 1) {
    while (ts >= 0 && s[ts] > i) --ts;  // offsets beyond the row do not apply
  }
  __device__ int slash_key() const { return ts >= 0 ? i - s[ts] : INT_MAX; }
  __device__ int vertical_key() const { return tv < nv && v[tv] <= i ? v[tv] : INT_MAX; }
  __device__ int cur() const { return min(slash_key(), vertical_key()); }
  __device__ void next() {
    if (slash_key() <= vertical_key()) --ts;
    else ++tv;
  }
};
// Grid: inside a grid segment, the patches of the same column above row i.
struct GridColumns {
  int j, i, w;
  __device__ int cur() const { return j < i ? j : INT_MAX; }
  __device__ void next() { j += w; }
};

template <class Emit>
__device__ void pattern_row_keys(const PatternView& p, const SegmentsView& segs, int i, Emit& emit) {
  KeyMerge km{min(i + 1, p.seq)};
  if (p.has_layout) {
    const int m = i / p.block;
    ArrayColumns cols{p.column_index + p.column_ptr[m], p.column_ptr[m + 1] - p.column_ptr[m]};
    for (int t = p.block_ptr[m]; t < p.block_ptr[m + 1]; ++t)
      km.range(p.block_offset[t], p.block_offset[t] + p.block, cols, emit);
    km.finish(cols, emit);
    return;
  }
  if (p.kind == kDense || (p.kind == kTriShape && i >= p.seq - p.n_last)) {
    NoColumns none;
    km.range(0, km.limit, none, emit);
    return;
  }
  if (p.kind == kVerticalSlash) {
    VerticalSlashColumns cols(p.verticals, p.nv, p.slashes, p.ns, i);
    km.finish(cols, emit);
    return;
  }
  // a_shape, tri_shape, grid: the sinks and the local window (sorted), grid columns.
  int xs[2], ys[2], n = 0;
  if (p.n_init > 0) xs[n] = 0, ys[n++] = p.n_init;
  xs[n] = i - p.n_local + 1, ys[n++] = i + 1;
  if (n == 2 && (xs[1] < xs[0] || (xs[1] == xs[0] && ys[1] < ys[0]))) {
    const int tx = xs[0], ty = ys[0];
    xs[0] = xs[1], ys[0] = ys[1], xs[1] = tx, ys[1] = ty;
  }
  GridColumns grid{INT_MAX, i, 1};
  if (p.kind == kGrid && segs.seg_grid_w) {
    const int sg = segs.token_segment[i], w = segs.seg_grid_w[sg], start = segs.seg_start[sg];
    if (w > 0 && i - w >= start) grid = GridColumns{i - ((i - start) / w) * w, i, w};
  }
  for (int r = 0; r < n; ++r) km.range(xs[r], ys[r], grid, emit);
  km.finish(grid, emit);
}

// The plan's keys of row i: the query modality's pattern, skipped key
// modalities removed, the diagonal appended.
template <class Emit>
__device__ void plan_row_keys(const PlanView& plan, int i, Emit& emit) {
  const int M = plan.segs.modalities;
  const int qm = plan.segs.token_modality ? plan.segs.token_modality[i] : 0;
  const PatternView& p = plan.by_query[plan.patterns == 1 ? 0 : qm];
  int last = -1;
  auto filtered = [&](int j) {
    if (plan.skip && plan.skip[qm * M + plan.segs.token_modality[j]]) return;
    emit(j);
    last = j;
  };
  pattern_row_keys(p, plan.segs, i, filtered);
  if (last != i) emit(i);
}

__global__ void row_key_counts_kernel(PlanView plan, const int* __restrict__ rows, int n, int* __restrict__ counts) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= n) return;
  int c = 0;
  auto count = [&](int) { ++c; };
  plan_row_keys(plan, rows[r], count);
  counts[r] = c;
}

__global__ void row_masses_kernel(PlanView plan, const int* __restrict__ rows, const int* __restrict__ prob_row, int n,
                                  const float* __restrict__ probs, int64_t ld, double* __restrict__ mass) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const float* pr = probs + prob_row[r] * ld;
  double m = 0;
  auto add = [&](int j) { m += static_cast<double>(pr[j]); };
  plan_row_keys(plan, rows[r], add);
  mass[r] = m;
}

__global__ void plan_counts_kernel(PlanView plan, int seq, int* __restrict__ counts) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= seq) return;
  int c = 0;
  auto count = [&](int) { ++c; };
  plan_row_keys(plan, i, count);
  counts[i] = c;
}

__global__ void plan_fill_kernel(PlanView plan, int seq, const int* __restrict__ rowptr, int col_base,
                                 int* __restrict__ local_cols, int* __restrict__ global_cols) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= seq) return;
  int pos = rowptr[i];
  auto write = [&](int j) {
    local_cols[pos] = j;
    global_cols[pos] = col_base + j;
    ++pos;
  };
  plan_row_keys(plan, i, write);
}

void exclusive_sum_host(const std::vector<int>& counts, std::vector<int>& ptr) {
  ptr.assign(counts.size() + 1, 0);
  for (size_t m = 0; m < counts.size(); ++m) ptr[m + 1] = ptr[m] + counts[m];
}

}  // namespace

// ---- host wrappers --------------------------------------------------------------------

void DevicePattern::build(const PatternSpec& spec, cudaStream_t stream) {
  spec_ = spec;
  view_ = PatternView{};
  view_.kind = spec.kind;
  view_.seq = spec.seq;
  view_.block = spec.block;
  view_.n_init = spec.n_init;
  view_.n_local = spec.n_local;
  view_.n_last = spec.n_last;
  if (spec.kind == kVerticalSlash) {
    verticals_.upload(spec.verticals.data(), spec.verticals.size(), stream);
    slashes_.upload(spec.slashes.data(), spec.slashes.size(), stream);
    view_.verticals = verticals_.get();
    view_.slashes = slashes_.get();
    view_.nv = static_cast<int>(spec.verticals.size());
    view_.ns = static_cast<int>(spec.slashes.size());
  }
  const int nb = row_blocks();
  std::vector<int> kb_ptr(1, 0), kb;
  if (spec.kind == kBlockSparse) {
    for (int m = 0; m < nb; ++m) {
      if (m < static_cast<int>(spec.key_blocks.size())) kb.insert(kb.end(), spec.key_blocks[m].begin(), spec.key_blocks[m].end());
      kb_ptr.push_back(static_cast<int>(kb.size()));
    }
    key_block_ptr_.upload(kb_ptr.data(), kb_ptr.size(), stream);
    key_blocks_.upload(kb.data(), kb.size(), stream);
  }
  if (!spec.has_layout()) {
    CHECK_CUDA(cudaStreamSynchronize(stream));  // the host vectors above are temporaries
    return;
  }
  // Pass 1: counts per row block; host prefix sums; pass 2: the offsets and columns.
  block_count_.ensure(nb);
  column_count_.ensure(nb);
  layout_kernel<<<blocks_for(nb), kThreads, 0, stream>>>(view_, nb, key_block_ptr_.get(), key_blocks_.get(),
                                                         block_count_.get(), column_count_.get(), nullptr, nullptr,
                                                         nullptr, nullptr);
  CHECK_LAUNCH(layout_kernel);
  std::vector<int> bc(nb), cc(nb), bp, cp;
  block_count_.download(bc.data(), nb, stream);
  column_count_.download(cc.data(), nb, stream);
  CHECK_CUDA(cudaStreamSynchronize(stream));
  exclusive_sum_host(bc, bp);
  exclusive_sum_host(cc, cp);
  block_ptr_.upload(bp.data(), bp.size(), stream);
  column_ptr_.upload(cp.data(), cp.size(), stream);
  block_offset_.ensure(bp.back());
  column_index_.ensure(cp.back());
  layout_kernel<<<blocks_for(nb), kThreads, 0, stream>>>(view_, nb, key_block_ptr_.get(), key_blocks_.get(), nullptr,
                                                         nullptr, block_ptr_.get(), block_offset_.get(),
                                                         column_ptr_.get(), column_index_.get());
  CHECK_LAUNCH(layout_kernel);
  CHECK_CUDA(cudaStreamSynchronize(stream));
  view_.has_layout = 1;
  view_.block_ptr = block_ptr_.get();
  view_.block_offset = block_offset_.get();
  view_.column_ptr = column_ptr_.get();
  view_.column_index = column_index_.get();
}

void DevicePattern::layout(std::vector<int>& block_ptr, std::vector<int>& block_offset, std::vector<int>& column_ptr,
                           std::vector<int>& column_index, cudaStream_t stream) const {
  block_ptr.clear(), block_offset.clear(), column_ptr.clear(), column_index.clear();
  if (!view_.has_layout) return;
  const int nb = row_blocks();
  block_ptr.resize(nb + 1);
  column_ptr.resize(nb + 1);
  block_ptr_.download(block_ptr.data(), nb + 1, stream);
  column_ptr_.download(column_ptr.data(), nb + 1, stream);
  CHECK_CUDA(cudaStreamSynchronize(stream));
  block_offset.resize(block_ptr.back());
  column_index.resize(column_ptr.back());
  if (!block_offset.empty()) block_offset_.download(block_offset.data(), block_offset.size(), stream);
  if (!column_index.empty()) column_index_.download(column_index.data(), column_index.size(), stream);
  CHECK_CUDA(cudaStreamSynchronize(stream));
}

void DeviceSegments::upload(const Segments& s, cudaStream_t stream) {
  std::vector<int> start, grid_w;
  for (const auto& g : s.segments) start.push_back(g.start), grid_w.push_back(g.grid_w);
  seg_start_.upload(start.data(), start.size(), stream);
  seg_grid_w_.upload(grid_w.data(), grid_w.size(), stream);
  token_modality_.upload(s.token_modality.data(), s.token_modality.size(), stream);
  token_segment_.upload(s.token_segment.data(), s.token_segment.size(), stream);
  CHECK_CUDA(cudaStreamSynchronize(stream));
  view_.modalities = s.modalities();
  view_.seg_start = seg_start_.get();
  view_.seg_grid_w = seg_grid_w_.get();
  view_.token_modality = token_modality_.get();
  view_.token_segment = token_segment_.get();
}

void launch_row_key_counts(const PlanView& plan, const int* rows, int n, int* counts, cudaStream_t stream) {
  if (n <= 0) return;
  row_key_counts_kernel<<<blocks_for(n), kThreads, 0, stream>>>(plan, rows, n, counts);
  CHECK_LAUNCH(row_key_counts_kernel);
}

void launch_row_masses(const PlanView& plan, const int* rows, const int* prob_row, int n, const float* probs,
                       int64_t ld, double* mass, cudaStream_t stream) {
  if (n <= 0) return;
  row_masses_kernel<<<blocks_for(n), kThreads, 0, stream>>>(plan, rows, prob_row, n, probs, ld, mass);
  CHECK_LAUNCH(row_masses_kernel);
}

void launch_plan_counts(const PlanView& plan, int seq, int* counts, cudaStream_t stream) {
  plan_counts_kernel<<<blocks_for(seq), kThreads, 0, stream>>>(plan, seq, counts);
  CHECK_LAUNCH(plan_counts_kernel);
}

void launch_plan_fill(const PlanView& plan, int seq, const int* rowptr, int col_base, int* local_cols,
                      int* global_cols, cudaStream_t stream) {
  plan_fill_kernel<<<blocks_for(seq), kThreads, 0, stream>>>(plan, seq, rowptr, col_base, local_cols, global_cols);
  CHECK_LAUNCH(plan_fill_kernel);
}

}  // namespace gpu_ref
