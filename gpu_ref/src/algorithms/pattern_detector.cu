#include "algorithms/pattern_detector.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "algorithms/patterns.cuh"
#include "common/csr.cuh"
#include "common/softmax.cuh"
#include "common/sparse_attention.cuh"
#include "common/topk.cuh"
#include "common/warp.cuh"

namespace gpu_ref {

namespace {

using json = nlohmann::ordered_json;

// ---- parameters (params.mask_unit of the dump, as attnsim's arch JSON) -------------

struct DetectorParams {
  std::vector<PatternKind> candidates;
  double budget = 0.1, budget_slack = 0.1, min_mass = 0.5, select_delta = 0.01, boundary_delta = 0.03,
         skip_mass = 0.01, vertical_share = 0.3;
  bool granular = true;
  bool a_shape_granular = true;
  bool force_diagonal = true;  // block_sparse_diagonal: "forced" (absent: the older dumps) | "scored"
  int block = 64, last_q = 64, eval_groups = 1, init_columns = 30, local_diagonals = 100, min_vertical = 30,
      min_slash = 50, n_init = 64, n_last = 64, block_topk = 0;
};

struct Config {
  DetectorParams p;
  Segments segs;
};

Config read_config(const DumpInput& in) {
  Config c;
  const json& params = in.meta->at("params");
  if (!params.contains("mask_unit") || !params["mask_unit"].is_object())
    in.fail_param("mask_unit", "missing (a pattern_detector dump carries the detector's parameters)");
  const json& mu = params["mask_unit"];
  auto num = [&](const char* key, double& x, double lo, double hi) {
    if (!mu.contains(key)) return;
    if (!mu[key].is_number() || mu[key].get<double>() < lo || mu[key].get<double>() > hi)
      in.fail_param(std::string("mask_unit.") + key, "expected a number from " + json(lo).dump() + " to " + json(hi).dump());
    x = mu[key].get<double>();
  };
  auto integer = [&](const char* key, int& x, int lo, int hi) {
    if (!mu.contains(key)) return;
    if (!mu[key].is_number_integer() || mu[key].get<int64_t>() < lo || mu[key].get<int64_t>() > hi)
      in.fail_param(std::string("mask_unit.") + key, "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    x = mu[key].get<int>();
  };
  DetectorParams& p = c.p;
  if (mu.contains("pattern_file"))
    in.fail_param("mask_unit.pattern_file", "not supported by gpu_ref (it recomputes the online choice only)");
  const json cands = mu.value("candidates", json::array({"a_shape", "tri_shape", "grid", "block_sparse", "vertical_slash"}));
  if (!cands.is_array() || cands.empty()) in.fail_param("mask_unit.candidates", "expected a non-empty array");
  for (const auto& k : cands) {
    const std::string s = k.is_string() ? k.get<std::string>() : "";
    PatternKind kind;
    if (s == "a_shape") kind = kAShape;
    else if (s == "tri_shape") kind = kTriShape;
    else if (s == "grid") kind = kGrid;
    else if (s == "block_sparse") kind = kBlockSparse;
    else if (s == "vertical_slash") kind = kVerticalSlash;
    else in.fail_param("mask_unit.candidates", "unknown candidate " + k.dump());
    p.candidates.push_back(kind);
  }
  num("budget", p.budget, 1e-4, 1);
  num("budget_slack", p.budget_slack, 0, 10);
  num("min_mass", p.min_mass, 0, 1);
  num("select_delta", p.select_delta, 0, 1);
  num("boundary_delta", p.boundary_delta, 0, 1);
  num("skip_mass", p.skip_mass, 0, 1);
  num("vertical_share", p.vertical_share, 0, 1);
  const std::string gran = mu.value("granularity", std::string("block"));
  if (gran != "block" && gran != "exact") in.fail_param("mask_unit.granularity", "expected \"block\" or \"exact\"");
  p.granular = gran == "block";
  // A-shape / Tri-shape apart (attnsim's a_shape_granularity; absent: as granularity, the older dumps).
  const std::string a_gran = mu.value("a_shape_granularity", gran);
  if (a_gran != "block" && a_gran != "exact")
    in.fail_param("mask_unit.a_shape_granularity", "expected \"block\" or \"exact\"");
  p.a_shape_granular = a_gran == "block";
  const std::string diag = mu.value("block_sparse_diagonal", std::string("forced"));
  if (diag != "forced" && diag != "scored")
    in.fail_param("mask_unit.block_sparse_diagonal", "expected \"forced\" or \"scored\"");
  p.force_diagonal = diag == "forced";
  integer("block_size", p.block, 1, 4096);
  integer("last_q", p.last_q, 1, 1 << 20);
  integer("eval_groups", p.eval_groups, 1, 64);
  integer("init_columns", p.init_columns, 0, 1 << 20);
  integer("local_diagonals", p.local_diagonals, 0, 1 << 20);
  integer("min_vertical", p.min_vertical, 0, 1 << 20);
  integer("min_slash", p.min_slash, 0, 1 << 20);
  integer("n_init", p.n_init, 0, 1 << 20);
  integer("n_last", p.n_last, 0, 1 << 20);
  integer("block_topk", p.block_topk, 0, 1 << 20);

  // Segments (params.segments: [{kind, start, tokens, grid?}]; one text segment when absent).
  Segments& sg = c.segs;
  sg.seq = in.seq_len;
  const json segs = params.value("segments", json::array({json{{"kind", "text"}, {"start", 0}, {"tokens", in.seq_len}}}));
  if (!segs.is_array()) in.fail_param("segments", "expected an array");
  int pos = 0;
  for (size_t x = 0; x < segs.size(); ++x) {
    const json& s = segs[x];
    const std::string where = "segments[" + std::to_string(x) + "]";
    if (!s.is_object() || !s.contains("kind") || !s["kind"].is_string() || !s.contains("tokens") ||
        !s["tokens"].is_number_integer())
      in.fail_param(where, "expected {\"kind\", \"tokens\"}");
    Segments::Segment seg;
    seg.start = pos;
    seg.length = s["tokens"].get<int>();
    if (s.contains("grid")) {
      if (!s["grid"].is_array() || s["grid"].size() != 2) in.fail_param(where + ".grid", "expected [rows, cols]");
      seg.grid_w = s["grid"][1].get<int>();
    }
    if (seg.length <= 0) continue;
    const std::string name = s["kind"].get<std::string>();
    auto it = std::find(sg.names.begin(), sg.names.end(), name);
    seg.modality = static_cast<int>(it - sg.names.begin());
    if (it == sg.names.end()) sg.names.push_back(name);
    pos += seg.length;
    sg.segments.push_back(seg);
  }
  if (pos != in.seq_len) in.fail_param("segments", "cover " + std::to_string(pos) + " tokens, seq_len is " + std::to_string(in.seq_len));
  if (sg.modalities() > kMaxModalities) in.fail_param("segments", "more than 8 modalities");
  for (size_t k = 0; k < sg.segments.size(); ++k)
    for (int t = 0; t < sg.segments[k].length; ++t) {
      sg.token_modality.push_back(sg.segments[k].modality);
      sg.token_segment.push_back(static_cast<int>(k));
    }
  return c;
}

void validate_detector(const DumpInput& in) {
  read_config(in);
  if (!in.causal) in.fail_param("causal", "the pattern detector models causal prefill: must be true");
  const double rows = static_cast<double>(in.heads()) * in.seq_len;
  if (rows * (in.seq_len + 1) / 2 >= 2147483647.0)
    throw InputError(in.meta_path(), "the causal entries of all heads exceed the 32-bit CSR indices of gpu_ref");
}

// ---- kernels ------------------------------------------------------------------------

constexpr int kThreads = 128;
unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::max<int64_t>(1, (n + kThreads - 1) / kThreads)); }

// qs[r] = q[rows[r]] * scale (the simulator scales Q before the estimation GEMM).
__global__ void gather_scaled_kernel(const float* __restrict__ q, const int* __restrict__ rows, int n, int D, float scale,
                                     float* __restrict__ qs) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<int64_t>(n) * D) return;
  qs[t] = q[static_cast<int64_t>(rows[t / D]) * D + t % D] * scale;
}

// One warp per estimation row: causal softmax over keys j <= rows[r] (fp32), 0 beyond.
__global__ void causal_softmax_kernel(const float* __restrict__ s, const int* __restrict__ rows, int n, int L,
                                      float* __restrict__ p) {
  const int64_t r = warp_row();
  if (r >= n) return;
  const int lane = threadIdx.x % kWarp, lim = rows[r] + 1;
  const float* sr = s + r * L;
  float* pr = p + r * L;
  float m = -INFINITY;
  for (int j = lane; j < lim; j += kWarp) m = fmaxf(m, sr[j]);
  m = warp_max(m);
  float z = 0.f;
  for (int j = lane; j < lim; j += kWarp) z += expf(sr[j] - m);
  z = warp_sum(z);
  for (int j = lane; j < L; j += kWarp) pr[j] = j < lim ? expf(sr[j] - m) / z : 0.f;
}

// Column (vertical) and diagonal (slash, offset o = i - j) sums of an
// estimation row set (probability rows r0 .. r0 + n - 1, query rows rows[]):
// one thread per key / offset, rows in order (the simulator's order of
// additions); forced columns j < init_columns and offsets o < local_diagonals
// are +inf. keys[2 * K]: vertical then slash; values: the index.
__global__ void vertical_slash_sums_kernel(const float* __restrict__ p, int64_t ld, const int* __restrict__ rows, int r0,
                                           int n, int K, int init_columns, int local_diagonals, float* __restrict__ keys,
                                           int* __restrict__ values) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= 2 * K) return;
  const bool slash = t >= K;
  const int x = slash ? t - K : t;
  float acc = 0.f;
  for (int r = r0; r < r0 + n; ++r) {
    const int i = rows[r], j = slash ? i - x : x;
    if (j >= 0 && j <= i) acc += p[r * ld + j];
  }
  if (x < (slash ? local_diagonals : init_columns)) acc = INFINITY;
  keys[t] = acc;
  values[t] = x;
}

// Mean of every `block` rows of x [L, D] (the last block may be shorter).
__global__ void block_mean_kernel(const float* __restrict__ x, int L, int D, int block, float* __restrict__ out) {
  const int nb = (L + block - 1) / block;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= nb * D) return;
  const int b = t / D, d = t % D, n = min(block, L - b * block);
  float s = 0.f;
  for (int r = 0; r < n; ++r) s += x[static_cast<int64_t>(b * block + r) * D + d];
  out[t] = s / static_cast<float>(n);
}

// Causal key blocks of each row block, packed: row block qb at qb(qb+1)/2,
// scores pooled * scale, the diagonal block forced (+inf) with force_diagonal.
__global__ void pack_block_scores_kernel(const float* __restrict__ pooled, int nb, float scale, bool force_diagonal,
                                         float* __restrict__ scaled, float* __restrict__ keys, int* __restrict__ values) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= nb * nb) return;
  const int qb = t / nb, kb = t % nb;
  const float s = pooled[t] * scale;
  scaled[t] = s;
  if (kb > qb) return;
  const int at = qb * (qb + 1) / 2 + kb;
  keys[at] = kb == qb && force_diagonal ? INFINITY : s;
  values[at] = kb;
}

// ---- one head's detection ---------------------------------------------------------------

struct Sizes {
  int n_init = 0, n_local = 1, n_last = 0, v = 0, s = 0, topk = 1;
};

struct Plan {
  std::string boundary = "none";
  std::vector<PatternSpec> by_query;
  std::vector<std::vector<int8_t>> skip;  // [q][k]; empty: none
};

// A plan on the device (its patterns' layouts built by the GPU).
struct DevicePlan {
  std::vector<DevicePattern> patterns;
  DeviceBuffer<int8_t> skip;
  PlanView view;
  void build(const Plan& plan, const DeviceSegments& segs, cudaStream_t st) {
    patterns.clear();
    patterns.reserve(plan.by_query.size());
    view = PlanView{};
    view.patterns = static_cast<int>(plan.by_query.size());
    for (size_t m = 0; m < plan.by_query.size(); ++m) {
      patterns.emplace_back();
      patterns.back().build(plan.by_query[m], st);
      view.by_query[m] = patterns.back().view();
    }
    view.segs = segs.view();
    if (!plan.skip.empty()) {
      std::vector<int8_t> flat;
      for (const auto& row : plan.skip) flat.insert(flat.end(), row.begin(), row.end());
      skip.upload(flat.data(), flat.size(), st);
      CHECK_CUDA(cudaStreamSynchronize(st));
      view.skip = skip.get();
    }
  }
};

struct VerticalSlashScores {
  int keys = 0;
  std::vector<float> vertical, slash;             // +inf where forced
  std::vector<int> vertical_order, slash_order;   // stable descending
};

json floats_json(const std::vector<float>& x) {  // +inf -> null (JSON has no infinity)
  json a = json::array();
  for (float v : x) a.push_back(std::isfinite(v) ? json(v) : json());
  return a;
}

class HeadDetector {
 public:
  HeadDetector(GpuContext& ctx, const Config& cfg, const DeviceSegments& dsegs, const float* q, const float* k,
               int L, int D, double scale)
      : ctx_(ctx), st_(ctx.stream), p_(cfg.p), segs_(cfg.segs), dsegs_(dsegs), q_(q), k_(k), L_(L),
        D_(D), scale_(scale) {
    budget_keys_ = std::max<int>(1, static_cast<int>(std::lround(p_.budget * (L + 1) / 2.0)));
  }

  // Estimation: probabilities of `rows` (sorted, unique) over their causal keys.
  void load_probs(std::vector<int> rows) {
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    prob_rows_ = rows;
    for (size_t r = 0; r < rows.size(); ++r) prob_index_[rows[r]] = static_cast<int>(r);
    const int n = static_cast<int>(rows.size());
    d_rows_.upload(rows.data(), n, st_);
    qs_.ensure(static_cast<size_t>(n) * D_);
    raw_scores_.ensure(static_cast<size_t>(n) * L_);
    probs_.ensure(static_cast<size_t>(n) * L_);
    gather_scaled_kernel<<<blocks_for(static_cast<int64_t>(n) * D_), kThreads, 0, st_>>>(
        q_, d_rows_.get(), n, D_, static_cast<float>(scale_), qs_.get());
    CHECK_LAUNCH(gather_scaled_kernel);
    // Row-major S = Qs K^T is column-major S^T = K Qs^T (as dense.cu).
    const float one = 1.f, zero = 0.f;
    CHECK_CUBLAS(cublasSgemm(ctx_.cublas, CUBLAS_OP_T, CUBLAS_OP_N, L_, n, D_, &one, k_, D_, qs_.get(), D_, &zero,
                             raw_scores_.get(), L_));
    causal_softmax_kernel<<<row_blocks(n), kRowsPerBlock * kWarp, 0, st_>>>(raw_scores_.get(), d_rows_.get(), n, L_,
                                                                           probs_.get());
    CHECK_LAUNCH(causal_softmax_kernel);
    CHECK_CUDA(cudaStreamSynchronize(st_));  // `rows` is a host temporary
  }

  Sizes default_sizes() const {
    Sizes z;
    const int B = budget_keys_;
    z.n_init = std::min(p_.n_init, std::max(1, B / 4));
    z.n_local = std::max(1, B - z.n_init);
    z.n_last = std::min(p_.n_last, L_);
    z.v = std::min(L_, std::max(p_.min_vertical, static_cast<int>(std::lround(p_.vertical_share * B))));
    z.s = std::min(L_, std::max(p_.min_slash, B - z.v));
    z.topk = p_.block_topk > 0 ? p_.block_topk : std::max(1, static_cast<int>(std::lround(double(B) / p_.block)));
    return z;
  }

  // Column and diagonal sums of an estimation row set and their top-k order (once per set).
  const VerticalSlashScores& scores_of(const std::vector<int>& est_rows) {
    const int key = est_rows.empty() ? -1 : est_rows.front();
    auto it = vs_.find(key);
    if (it != vs_.end()) return it->second;
    VerticalSlashScores sc;
    const int K = est_rows.empty() ? 0 : est_rows.back() + 1;
    sc.keys = K;
    if (K > 0) {
      keys_.ensure(2 * K), keys_out_.ensure(2 * K);
      vals_.ensure(2 * K), vals_out_.ensure(2 * K);
      vertical_slash_sums_kernel<<<blocks_for(2 * K), kThreads, 0, st_>>>(
          probs_.get(), L_, d_rows_.get(), prob_index_.at(est_rows.front()), static_cast<int>(est_rows.size()), K,
          p_.init_columns, p_.local_diagonals, keys_.get(), vals_.get());
      CHECK_LAUNCH(vertical_slash_sums_kernel);
      const int offsets[3] = {0, K, 2 * K};
      seg_.upload(offsets, 3, st_);
      stable_sort_descending(sort_tmp_, keys_.get(), keys_out_.get(), vals_.get(), vals_out_.get(), 2 * K, 2,
                             seg_.get(), seg_.get() + 1, st_);
      std::vector<float> raw(2 * K);
      std::vector<int> order(2 * K);
      keys_.download(raw.data(), 2 * K, st_);
      vals_out_.download(order.data(), 2 * K, st_);
      CHECK_CUDA(cudaStreamSynchronize(st_));
      sc.vertical.assign(raw.begin(), raw.begin() + K);
      sc.slash.assign(raw.begin() + K, raw.end());
      sc.vertical_order.assign(order.begin(), order.begin() + K);
      sc.slash_order.assign(order.begin() + K, order.end());
    }
    return vs_.emplace(key, std::move(sc)).first->second;
  }

  // Mean-pooled block scores and each row block's order of causal key blocks (once).
  void pooled_scores() {
    if (!pooled_.empty()) return;
    const int nb = (L_ + p_.block - 1) / p_.block;
    DeviceBuffer<float> qp(static_cast<size_t>(nb) * D_), kp(static_cast<size_t>(nb) * D_), raw(nb * nb),
        scaled(nb * nb);
    block_mean_kernel<<<blocks_for(nb * D_), kThreads, 0, st_>>>(q_, L_, D_, p_.block, qp.get());
    CHECK_LAUNCH(block_mean_kernel);
    block_mean_kernel<<<blocks_for(nb * D_), kThreads, 0, st_>>>(k_, L_, D_, p_.block, kp.get());
    CHECK_LAUNCH(block_mean_kernel);
    const float one = 1.f, zero = 0.f;
    CHECK_CUBLAS(cublasSgemm(ctx_.cublas, CUBLAS_OP_T, CUBLAS_OP_N, nb, nb, D_, &one, kp.get(), D_, qp.get(), D_, &zero,
                             raw.get(), nb));
    const int items = nb * (nb + 1) / 2;
    keys_.ensure(items), keys_out_.ensure(items), vals_.ensure(items), vals_out_.ensure(items);
    pack_block_scores_kernel<<<blocks_for(nb * nb), kThreads, 0, st_>>>(raw.get(), nb, static_cast<float>(scale_),
                                                                        p_.force_diagonal, scaled.get(), keys_.get(),
                                                                        vals_.get());
    CHECK_LAUNCH(pack_block_scores_kernel);
    std::vector<int> offsets(nb + 1);
    for (int qb = 0; qb <= nb; ++qb) offsets[qb] = qb * (qb + 1) / 2;
    seg_.upload(offsets.data(), offsets.size(), st_);
    stable_sort_descending(sort_tmp_, keys_.get(), keys_out_.get(), vals_.get(), vals_out_.get(), items, nb, seg_.get(),
                           seg_.get() + 1, st_);
    std::vector<float> flat(nb * nb);
    std::vector<int> order(items);
    scaled.download(flat.data(), flat.size(), st_);
    vals_out_.download(order.data(), items, st_);
    CHECK_CUDA(cudaStreamSynchronize(st_));
    pooled_.assign(nb, {});
    block_order_.assign(nb, {});
    for (int qb = 0; qb < nb; ++qb) {
      pooled_[qb].assign(flat.begin() + qb * nb, flat.begin() + (qb + 1) * nb);
      block_order_[qb].assign(order.begin() + offsets[qb], order.begin() + offsets[qb + 1]);
    }
  }

  // The candidate `kind` with its sizes scaled by f (MInference's floors kept); false: does not apply.
  bool build(PatternKind kind, const Sizes& z, const std::vector<int>& est_rows, PatternSpec& out, double f = 1.0) {
    out = PatternSpec{};
    out.kind = kind;
    out.seq = L_;
    out.block = p_.block;
    out.granular = kind == kAShape || kind == kTriShape ? p_.a_shape_granular : p_.granular;
    auto scaled = [&](int x, int floor) { return std::max(std::min(x, floor), static_cast<int>(std::lround(f * x))); };
    auto top = [](const std::vector<int>& order, int k) {
      std::vector<int> t(order.begin(), order.begin() + std::min<size_t>(std::max(k, 0), order.size()));
      std::sort(t.begin(), t.end());
      return t;
    };
    if (kind == kAShape || kind == kTriShape) {
      out.n_init = z.n_init;
      out.n_local = scaled(z.n_local, 1);
      if (kind == kTriShape) {  // budget over all rows: the dense tail costs n_last rows of about L keys
        out.n_last = z.n_last;
        const double total = double(budget_keys_) * L_, tail = double(z.n_last) * (L_ - z.n_last / 2.0);
        const double per_row = L_ > z.n_last ? (total - tail) / (L_ - z.n_last) : 0;
        if (z.n_last <= 0 || per_row < z.n_init + 1) return false;
        out.n_local = std::max(1, static_cast<int>(per_row) - z.n_init);
      }
    } else if (kind == kGrid) {
      const int w = segs_.max_grid_width();
      if (w == 0) return false;
      out.n_init = z.n_init;
      out.n_local = w;
    } else if (kind == kVerticalSlash) {
      const VerticalSlashScores& sc = scores_of(est_rows);
      const int v = std::min(sc.keys, scaled(z.v, p_.min_vertical)), s = std::min(sc.keys, scaled(z.s, p_.min_slash));
      out.verticals = top(sc.vertical_order, v);
      out.slashes = top(sc.slash_order, s);
    } else if (kind == kBlockSparse) {
      pooled_scores();
      const int topk = scaled(z.topk, 1);
      out.key_blocks.resize(block_order_.size());
      for (size_t qb = 0; qb < block_order_.size(); ++qb) out.key_blocks[qb] = top(block_order_[qb], topk);
    }
    return true;
  }

  // Kept / causal entries over up to 256 evenly spaced rows.
  double density(const PatternSpec& spec) {
    Plan plan;
    plan.by_query = {spec};
    const int n = std::min(L_, 256);
    std::vector<int> rows(n);
    for (int t = 0; t < n; ++t) rows[t] = static_cast<int>((static_cast<int64_t>(2 * t + 1) * L_) / (2 * n));
    const std::vector<int> counts = key_counts(plan, rows);
    double kept = 0, allowed = 0;
    for (int t = 0; t < n; ++t) kept += counts[t], allowed += rows[t] + 1;
    return kept / allowed;
  }

  std::vector<int> key_counts(const Plan& plan, const std::vector<int>& rows) {
    DevicePlan dp;
    dp.build(plan, dsegs_, st_);
    DeviceBuffer<int> d_rows, d_counts(rows.size());
    d_rows.upload(rows.data(), rows.size(), st_);
    launch_row_key_counts(dp.view, d_rows.get(), static_cast<int>(rows.size()), d_counts.get(), st_);
    std::vector<int> counts(rows.size());
    d_counts.download(counts.data(), counts.size(), st_);
    CHECK_CUDA(cudaStreamSynchronize(st_));
    return counts;
  }

  // Sizes a candidate to the budget (bisection on a size factor when its density exceeds budget * (1 + slack)).
  bool build_fitted(PatternKind kind, const Sizes& z, const std::vector<int>& est_rows, PatternSpec& out) {
    if (!build(kind, z, est_rows, out)) return false;
    if (kind != kAShape && kind != kVerticalSlash && kind != kBlockSparse) return true;
    const double target = std::min(1.0, p_.budget * (1 + p_.budget_slack));
    if (density(out) <= target) return true;
    double lo = 0, hi = 1;
    PatternSpec trial;
    build(kind, z, est_rows, out, 0.0);  // the floors
    for (int it = 0; it < 8; ++it) {
      const double mid = 0.5 * (lo + hi);
      build(kind, z, est_rows, trial, mid);
      if (density(trial) <= target) {
        lo = mid;
        out = trial;
      } else {
        hi = mid;
      }
    }
    return true;
  }

  // Mean attention mass the plan keeps over `rows` (Tri-shape: its dense tail
  // counted with mass 1 in proportion to its share of `group_rows`).
  double mass(const Plan& plan, const std::vector<int>& rows, int64_t group_rows) {
    if (rows.empty()) return 0;
    const bool tri = plan.by_query.size() == 1 && plan.by_query[0].kind == kTriShape;
    Plan eval = plan;
    if (tri) eval.by_query[0].kind = kAShape;  // rows evaluated as A-shape, extrapolated
    const std::vector<double> m = row_masses(eval, rows);
    double sum = 0;
    for (double x : m) sum += x;
    const double mean = sum / static_cast<double>(rows.size());
    if (!tri) return mean;
    const double f = std::min(1.0, double(plan.by_query[0].n_last) / std::max<int64_t>(1, group_rows));
    return f + (1 - f) * mean;
  }

  std::vector<double> row_masses(const Plan& plan, const std::vector<int>& rows) {
    DevicePlan dp;
    dp.build(plan, dsegs_, st_);
    std::vector<int> pidx(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) pidx[r] = prob_index_.at(rows[r]);
    DeviceBuffer<int> d_rows, d_pidx;
    DeviceBuffer<double> d_mass(rows.size());
    d_rows.upload(rows.data(), rows.size(), st_);
    d_pidx.upload(pidx.data(), pidx.size(), st_);
    launch_row_masses(dp.view, d_rows.get(), d_pidx.get(), static_cast<int>(rows.size()), probs_.get(), L_,
                      d_mass.get(), st_);
    std::vector<double> m(rows.size());
    d_mass.download(m.data(), m.size(), st_);
    CHECK_CUDA(cudaStreamSynchronize(st_));
    return m;
  }

  Plan single(const PatternSpec& spec) const {
    Plan plan;
    plan.by_query = {spec};
    return plan;
  }

  struct Choice {
    PatternSpec pattern;
    double mass = 0;
    json candidates = json::object();
  };

  // MMInference's search: candidates in order, a later one wins only with
  // more than select_delta more mass; then the dense fallback.
  Choice choose(const std::vector<int>& est_rows, const std::vector<int>& eval_rows, int64_t group_rows,
                bool allow_grid) {
    Choice best;
    bool have = false;
    const Sizes z = default_sizes();
    for (PatternKind kind : p_.candidates) {
      if (kind == kGrid && !allow_grid) continue;
      PatternSpec spec;
      if (!build_fitted(kind, z, est_rows, spec)) continue;
      const double m = mass(single(spec), eval_rows, group_rows);
      best.candidates[pattern_name(kind)] = m;
      if (!have || m > best.mass + p_.select_delta) {
        best.pattern = spec;
        best.mass = m;
        have = true;
      }
    }
    if (!have || best.mass < p_.min_mass) {
      build(kDense, z, est_rows, best.pattern);
      best.mass = 1.0;
    }
    return best;
  }

  // Σ over the rows (in order) and keys j <= i of key modality km of the probabilities (host, from a download).
  std::vector<double> modality_shares(const std::vector<int>& rows) {
    const int M = segs_.modalities();
    std::vector<double> share(M, 0.0);
    std::vector<float> pr(L_);
    for (int i : rows) {
      CHECK_CUDA(cudaMemcpyAsync(pr.data(), probs_.get() + static_cast<int64_t>(prob_index_.at(i)) * L_,
                                 sizeof(float) * L_, cudaMemcpyDeviceToHost, st_));
      CHECK_CUDA(cudaStreamSynchronize(st_));
      for (int j = 0; j <= i; ++j) share[segs_.token_modality[j]] += pr[j];
    }
    return share;
  }

  // The whole detection of the head (src/kernels/pattern_detect.cpp detect_head, no pattern file).
  Plan detect(json& info) {
    const int L = L_, M = segs_.modalities();
    const int lq = std::min(p_.last_q, L);
    std::vector<std::vector<int>> tokens(M);
    for (int t = 0; t < L; ++t) tokens[segs_.token_modality[t]].push_back(t);
    const std::vector<int> est_shared = range_rows(L - lq, L);
    std::vector<std::vector<int>> est_m(M), eval_m(M);
    std::vector<int> eval_all, all_rows = est_shared;
    for (int m = 0; m < M; ++m) {
      const auto ab = M == 1 ? std::make_pair(L - lq, L) : segs_.last_rows(m, p_.last_q);
      est_m[m] = range_rows(ab.first, ab.second);
      eval_m[m] = eval_rows_of(tokens[m], est_m[m]);
      eval_all.insert(eval_all.end(), eval_m[m].begin(), eval_m[m].end());
      all_rows.insert(all_rows.end(), eval_m[m].begin(), eval_m[m].end());
    }
    std::sort(eval_all.begin(), eval_all.end());
    load_probs(all_rows);
    bool any_grid = false;
    for (int m = 0; m < M; ++m) any_grid = any_grid || segs_.has_grid(m);

    Plan plan;
    json extra = json::object();
    if (M == 1) {
      Choice c = choose(est_shared, eval_all, L, any_grid);
      plan.by_query = {c.pattern};
      extra["candidates"] = c.candidates;
    } else {
      Choice shared = choose(est_shared, eval_all, L, any_grid);
      const double mass_none = mass(single(shared.pattern), eval_all, L);
      Plan qplan;
      qplan.boundary = "q";
      json cands = json::object();
      for (int m = 0; m < M; ++m) {
        Choice c = choose(est_m[m], eval_m[m], static_cast<int64_t>(tokens[m].size()), segs_.has_grid(m));
        qplan.by_query.push_back(c.pattern);
        cands[segs_.names[m]] = c.candidates;
      }
      const double mass_q = mass(qplan, eval_all, L);
      const bool q_boundary = mass_q > mass_none + p_.boundary_delta;
      std::vector<std::vector<int8_t>> skip(M, std::vector<int8_t>(M, 0));
      bool any_skip = false;
      json shares = json::object();
      for (int m = 0; m < M; ++m) {
        std::vector<double> share = modality_shares(eval_m[m]), visible(M, 0.0);
        for (int i : eval_m[m])
          for (int j = 0; j <= i; ++j) visible[segs_.token_modality[j]] += 1;
        const double n = std::max<size_t>(1, eval_m[m].size());
        json sj = json::object();
        for (int km = 0; km < M; ++km) {
          share[km] /= n;
          sj[segs_.names[km]] = share[km];
          if (share[km] < p_.skip_mass && visible[km] / n >= p_.block) {
            skip[m][km] = 1;
            any_skip = true;
          }
        }
        shares[segs_.names[m]] = sj;
      }
      bool same_skip_for_all = any_skip;
      for (int m = 1; m < M; ++m) same_skip_for_all = same_skip_for_all && skip[m] == skip[0];
      if (!any_skip) {
        plan.boundary = q_boundary ? "q" : "none";
      } else {
        plan.boundary = (!q_boundary && same_skip_for_all) ? "k" : "2d";
        plan.skip = skip;
      }
      if (q_boundary) plan.by_query = qplan.by_query;
      else if (plan.boundary == "2d") plan.by_query.assign(M, shared.pattern);
      else plan.by_query = {shared.pattern};
      extra["candidates"] = {{"shared", shared.candidates}, {"by_modality", cands}};
      extra["boundary_mass"] = {{"none", mass_none}, {"q", mass_q}};
      extra["modality_shares"] = shares;
    }

    info = json::object();
    info["pattern"] = plan.by_query.size() == 1 ? pattern_name(plan.by_query[0].kind) : plan.boundary + "_boundary";
    info["boundary"] = plan.boundary;
    if (!plan.skip.empty()) {
      json sk = json::array();
      for (int m = 0; m < M; ++m)
        for (int km = 0; km < M; ++km)
          if (plan.skip[m][km]) sk.push_back({{"q", segs_.names[m]}, {"k", segs_.names[km]}});
      info["skip"] = sk;
    }
    info["mass_kept"] = mass(plan, eval_all, L);
    {  // density over the causal entries: every row up to 4096 rows, else a strided sample
      const int step = std::max(1, L / 4096);
      std::vector<int> rows;
      for (int i = step - 1; i < L; i += step) rows.push_back(i);
      const std::vector<int> counts = key_counts(plan, rows);
      double kept = 0, allowed = 0;
      for (size_t r = 0; r < rows.size(); ++r) kept += counts[r], allowed += rows[r] + 1;
      info["density"] = allowed > 0 ? kept / allowed : 0.0;
      if (step > 1) info["density_sampled_rows"] = rows.size();
    }
    info["estimation_rows"] = prob_rows_.size();
    info.update(extra);
    return plan;
  }

  json estimates_json() const {
    json sets = json::array();
    for (const auto& [first_row, sc] : vs_)
      sets.push_back({{"first_row", first_row}, {"keys", sc.keys}, {"vertical", floats_json(sc.vertical)},
                      {"slash", floats_json(sc.slash)}});
    json pooled = json::array();
    for (const auto& row : pooled_) pooled.push_back(floats_json(row));
    return {{"sets", sets}, {"pooled", pooled}};
  }

 private:
  static std::vector<int> range_rows(int a, int b) {
    std::vector<int> r;
    for (int i = a; i < b; ++i) r.push_back(i);
    return r;
  }
  // Evaluation rows of a group: its estimation rows plus eval_groups - 1 groups
  // of last_q consecutive tokens (of the group's modality) spread evenly.
  std::vector<int> eval_rows_of(const std::vector<int>& tokens, const std::vector<int>& est) const {
    std::vector<int> rows = est;
    const int n = static_cast<int>(tokens.size());
    for (int g = 1; g < p_.eval_groups; ++g) {
      const int end = static_cast<int>(static_cast<int64_t>(n) * g / p_.eval_groups);
      for (int t = std::max(0, end - p_.last_q); t < end; ++t) rows.push_back(tokens[t]);
    }
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    return rows;
  }

  GpuContext& ctx_;
  cudaStream_t st_;
  const DetectorParams& p_;
  const Segments& segs_;
  const DeviceSegments& dsegs_;
  const float *q_, *k_;
  int L_, D_;
  double scale_;
  int budget_keys_ = 1;
  std::vector<int> prob_rows_;
  std::map<int, int> prob_index_;
  DeviceBuffer<int> d_rows_, vals_, vals_out_, seg_;
  DeviceBuffer<float> qs_, raw_scores_, probs_, keys_, keys_out_;
  DeviceBuffer<char> sort_tmp_;
  std::map<int, VerticalSlashScores> vs_;
  std::vector<std::vector<float>> pooled_;
  std::vector<std::vector<int>> block_order_;
};

json pattern_json(const PatternSpec& s, const DevicePattern& dp, cudaStream_t st, const Segments& segs) {
  json j = {{"pattern", pattern_name(s.kind)}};
  const bool granular_kind = s.kind == kAShape || s.kind == kTriShape || s.kind == kVerticalSlash;
  if (granular_kind) j["granularity"] = s.granular ? "block" : "exact";
  if (s.kind == kAShape || s.kind == kTriShape || s.kind == kGrid) {
    j["n_init"] = s.n_init;
    j["n_local"] = s.n_local;
  }
  if (s.kind == kTriShape) j["n_last"] = s.n_last;
  if (s.kind == kVerticalSlash) {
    j["vertical_size"] = s.verticals.size();
    j["slash_size"] = s.slashes.size();
    j["verticals"] = s.verticals;
    j["slashes"] = s.slashes;
  }
  if (s.kind == kBlockSparse) {
    size_t k = 0;
    for (const auto& b : s.key_blocks) k = std::max(k, b.size());
    j["block"] = s.block;
    j["block_topk"] = k;
    j["key_blocks"] = s.key_blocks;
  }
  if (s.kind == kGrid) {
    std::vector<int> strides;
    for (const auto& g : segs.segments)
      if (g.grid_w > 0 && std::find(strides.begin(), strides.end(), g.grid_w) == strides.end()) strides.push_back(g.grid_w);
    j["strides"] = strides;
  }
  std::vector<int> bp, bo, cp, ci;
  dp.layout(bp, bo, cp, ci, st);
  if (!bp.empty()) {
    json bc = json::array(), off = json::array(), cc = json::array(), cols = json::array();
    for (size_t m = 0; m + 1 < bp.size(); ++m) {
      bc.push_back(bp[m + 1] - bp[m]);
      cc.push_back(cp[m + 1] - cp[m]);
      off.push_back(std::vector<int>(bo.begin() + bp[m], bo.begin() + bp[m + 1]));
      cols.push_back(std::vector<int>(ci.begin() + cp[m], ci.begin() + cp[m + 1]));
    }
    j["layout"] = {{"block", s.block}, {"block_count", bc}, {"block_offset", off}, {"column_count", cc},
                   {"column_index", cols}};
  }
  return j;
}

// ---- the pipeline -----------------------------------------------------------------------

AlgorithmResult run_detector(const DumpInput& in, GpuContext& ctx, const RunOptions& opt) {
  const Config cfg = read_config(in);
  const int64_t H = in.heads();
  const int S = in.seq_len, D = in.head_dim;
  const int64_t HS = H * S;
  const size_t sd = static_cast<size_t>(S) * D;
  cudaStream_t st = ctx.stream;

  DeviceBuffer<float> q, k, v, out(H * sd);
  q.upload(in.q.data(), in.q.size(), st);
  k.upload(in.k.data(), in.k.size(), st);
  v.upload(in.v.data(), in.v.size(), st);
  DeviceSegments dsegs;
  dsegs.upload(cfg.segs, st);
  DeviceBuffer<int> counts(HS + 1), rowptr(HS + 1), indptr(H * (S + 1));
  DeviceBuffer<int64_t> offsets(H + 1);
  DeviceBuffer<char> scan_tmp(exclusive_scan_temp_bytes(HS + 1));
  DeviceBuffer<int> cols_local, cols_global;
  DeviceBuffer<float> scores, probs;
  SparseAttention attention(ctx);
  std::vector<DevicePlan> plans(H);
  json heads = json::array();
  int nnz = 0;

  StepTimer timer(st);
  auto poison = [&] {
    out.fill_bytes(0xff, out.size(), st);
    indptr.fill_bytes(0xff, indptr.size(), st);
    if (cols_local.size()) cols_local.fill_bytes(0xff, cols_local.size(), st);
    if (probs.size()) probs.fill_bytes(0xff, probs.size(), st);
  };
  timed_runs(timer, opt.warmup, opt.repeats, poison, [&] {
    heads = json::array();
    timer.start("detect");  // estimation, sums, top-k, pooled scores, candidates and their layouts, choice
    for (int64_t h = 0; h < H; ++h) {
      HeadDetector det(ctx, cfg, dsegs, q.get() + h * sd, k.get() + h * sd, S, D, in.scale);
      json info;
      const Plan plan = det.detect(info);
      plans[h].build(plan, dsegs, st);  // the final index (layouts built by the GPU)
      json by_query = json::array();
      for (size_t m = 0; m < plan.by_query.size(); ++m)
        by_query.push_back(pattern_json(plan.by_query[m], plans[h].patterns[m], st, cfg.segs));
      json pj = {{"boundary", plan.boundary}, {"by_query", by_query}};
      if (!plan.skip.empty()) pj["skip"] = plan.skip;
      heads.push_back({{"layer", h / in.groups}, {"group", h % in.groups}, {"plan", pj},
                       {"estimates", det.estimates_json()}, {"info", info}});
    }
    timer.stop();

    timer.start("mask_csr");
    for (int64_t h = 0; h < H; ++h) launch_plan_counts(plans[h].view, S, counts.get() + h * S, st);
    CHECK_CUDA(cudaMemsetAsync(counts.get() + HS, 0, sizeof(int), st));
    exclusive_scan(scan_tmp.get(), scan_tmp.bytes(), counts.get(), rowptr.get(), HS + 1, st);
    CHECK_CUDA(cudaMemcpyAsync(&nnz, rowptr.get() + HS, sizeof(int), cudaMemcpyDeviceToHost, st));
    ctx.sync();
    cols_local.ensure(nnz);
    cols_global.ensure(nnz);
    scores.ensure(nnz);
    probs.ensure(nnz);
    for (int64_t h = 0; h < H; ++h)
      launch_plan_fill(plans[h].view, S, rowptr.get() + h * S, static_cast<int>(h * S), cols_local.get(),
                       cols_global.get(), st);
    launch_head_indptr(rowptr.get(), H, S, indptr.get(), offsets.get(), st);
    timer.stop();

    timer.start("sddmm");
    attention.sddmm(rowptr.get(), cols_global.get(), HS, D, nnz, q.get(), k.get(), static_cast<float>(in.scale),
                    scores.get());
    timer.stop();
    timer.start("csr_softmax");
    if (nnz > 0) launch_csr_softmax(rowptr.get(), scores.get(), probs.get(), HS, st);
    timer.stop();
    timer.start("spmm");
    attention.spmm(rowptr.get(), cols_global.get(), HS, D, nnz, probs.get(), v.get(), out.get());
    timer.stop();
  });

  AlgorithmResult res;
  const int64_t L = in.layers, G = in.groups;
  auto csr = download_csr_results(L, G, S, D, nnz, indptr, cols_local, offsets, scores, probs, out, st);
  ctx.sync();
  for (auto& t : csr) res.tensors.push_back(std::move(t));
  res.texts.emplace_back("heads.json", heads.dump() + "\n");
  res.timings = timer.summary();
  res.nnz = nnz;
  res.notes.emplace_back("estimate", "cublasSgemm (fp32, no TF32) of the scaled estimation rows x K, causal row softmax");
  res.notes.emplace_back("topk", "cub::DeviceSegmentedSort::StableSortPairsDescending (ties: lower index first)");
  res.notes.emplace_back("index_build", "MInference's convert_vertical_slash_indexes and the A-shape / Tri-shape / "
                                        "block-sparse layouts, one GPU thread per row block (count, then fill)");
  res.notes.emplace_back("control", "candidate sizes, budget bisection and the choice run on the host, every density "
                                    "and kept mass computed by GPU kernels");
  res.notes.emplace_back("sddmm", attention.sddmm_note());
  res.notes.emplace_back("spmm", SparseAttention::spmm_note());
  return res;
}

const Algorithm kDetector{"pattern_detector", &validate_detector, &run_detector};

}  // namespace

const Algorithm& pattern_detector_algorithm() { return kDetector; }

}  // namespace gpu_ref
