#include "algorithms/spatten.h"

#include <cmath>
#include <cstdint>
#include <cstdio>

#include <cub/block/block_reduce.cuh>
#include <nlohmann/json.hpp>

#include "common/csr.cuh"
#include "common/softmax.cuh"
#include "common/sparse_attention.cuh"
#include "common/topk.cuh"
#include "common/warp.cuh"

namespace gpu_ref {

namespace {

using json = nlohmann::ordered_json;

// SpAtten's keep schedule (src/kernels/spatten.cpp KeepSchedule::keep): an
// explicit per-layer list, or 1.0 for the first start_fraction of the model's
// layers, then linear down to final_keep at the last layer.
struct KeepSchedule {
  double start_fraction = 0.15, final_keep = 1.0;
  std::vector<double> per_layer;
  double keep(int layer, int layers) const {
    if (!per_layer.empty()) return per_layer[std::min<size_t>(layer, per_layer.size() - 1)];
    const int start = static_cast<int>(std::ceil(start_fraction * layers));
    if (layer < start || layers - 1 <= start) return layer < start ? 1.0 : final_keep;
    return 1.0 + (final_keep - 1.0) * (layer - start + 1) / (layers - start);
  }
};

struct SpattenParams {
  KeepSchedule tokens, heads;
  int model_layers = 1, batch = 1, heads_per_batch = 1;
  // Progressive quantisation (fixed-point formats only): K's low `dropped`
  // bits are not fetched on the first pass.
  int dropped = 0;
  double fixed_scale = 1, code_lo = 0, code_hi = 0;  // 2^frac and the code range of number_format
  double requant_threshold = 0.1;
  double v_keep = 1.0;
  std::string number_format = "fp32";
};

double unit_number(const DumpInput& in, const json& o, const std::string& path, const char* key, double fallback) {
  if (!o.contains(key)) return fallback;
  const json& x = o.at(key);
  if (!x.is_number() || !std::isfinite(x.get<double>()) || x.get<double>() < 0 || x.get<double>() > 1)
    in.fail_param(path + "." + key, "expected a number from 0 to 1");
  return x.get<double>();
}

KeepSchedule schedule_of(const DumpInput& in, const json& mask_unit, const char* key) {
  KeepSchedule s;
  const std::string path = std::string("mask_unit.") + key;
  if (!mask_unit.contains(key) || !mask_unit.at(key).is_object()) in.fail_param(path, "missing (expected an object)");
  const json& o = mask_unit.at(key);
  s.start_fraction = unit_number(in, o, path, "start_fraction", s.start_fraction);
  s.final_keep = unit_number(in, o, path, "final_keep", s.final_keep);
  if (o.contains("per_layer")) {
    if (!o["per_layer"].is_array() || o["per_layer"].empty())
      in.fail_param(path + ".per_layer", "expected a non-empty array of keep fractions");
    for (const auto& x : o["per_layer"]) {
      if (!x.is_number() || x.get<double>() < 0 || x.get<double>() > 1)
        in.fail_param(path + ".per_layer", "expected numbers from 0 to 1, got " + x.dump());
      s.per_layer.push_back(x.get<double>());
    }
  }
  return s;
}

SpattenParams spatten_params(const DumpInput& in) {
  SpattenParams p;
  const json& params = in.meta->at("params");
  if (!params.contains("mask_unit") || !params["mask_unit"].is_object())
    in.fail_param("mask_unit", "missing (a SpAtten dump carries the mask unit's keep schedules)");
  const json& mu = params["mask_unit"];
  p.tokens = schedule_of(in, mu, "token_keep");
  p.heads = schedule_of(in, mu, "head_keep");
  p.model_layers = in.param_int("model_layers");
  if (p.model_layers < in.layers) in.fail_param("model_layers", "is smaller than the dump's layers");
  const json& m = *in.meta;
  if (!m.contains("batch") || !m.contains("heads")) throw InputError(in.meta_path(), "missing \"batch\" / \"heads\"");
  p.batch = m["batch"].get<int>();
  p.heads_per_batch = m["heads"].get<int>();
  p.number_format = in.param_string_or("number_format", "fp32");
  if (params.contains("msb_bits")) {
    const int msb = in.param_int("msb_bits");
    if (msb < 1 || msb > 32) in.fail_param("msb_bits", "must be 1 to 32");
    int width = 0, frac = 0;
    char tail = 0;
    if (p.number_format != "fp32") {
      if (std::sscanf(p.number_format.c_str(), "fixed%d.%d%c", &width, &frac, &tail) != 2 || width < 2 ||
          width > 32 || frac < 0 || frac >= width)
        in.fail_param("number_format", "expected fp32 or fixedW.F, got \"" + p.number_format + "\"");
      p.dropped = std::max(0, width - msb);
      p.fixed_scale = std::ldexp(1.0, frac);
      p.code_lo = -std::ldexp(1.0, width - 1);
      p.code_hi = std::ldexp(1.0, width - 1) - 1;
    }
    p.requant_threshold = in.param_number("requant_threshold");
    p.v_keep = in.param_number("v_keep");
    if (p.v_keep < 0 || p.v_keep > 1) in.fail_param("v_keep", "must be 0 to 1");
  }
  return p;
}

void validate_spatten(const DumpInput& in) {
  const SpattenParams p = spatten_params(in);
  if (static_cast<int64_t>(p.batch) * p.heads_per_batch != in.groups)
    throw InputError(in.meta_path(), "batch * heads does not match groups");
  const double per_layer = static_cast<double>(in.groups) * in.seq_len * in.seq_len;
  if (per_layer >= 2147483647.0)
    throw InputError(in.meta_path(), "groups * seq_len^2 = " + std::to_string(per_layer) +
                                         " is too large for the 32-bit CSR indices of gpu_ref");
}

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::max<int64_t>(1, (n + kThreads - 1) / kThreads)); }

// ---- cascade pruning (top-k of tokens and heads) ------------------------------

// Sort keys: alive entries by score, pruned ones at -inf (they sort last, and
// pruned entries stay pruned); values: the index inside the segment.
__global__ void prune_keys_kernel(const int8_t* __restrict__ alive, const double* __restrict__ score, int64_t n,
                                  int segment, double* __restrict__ keys, int* __restrict__ values) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n) return;
  keys[t] = alive[t] ? score[t] : -INFINITY;
  values[t] = static_cast<int>(t % segment);
}

// One block per segment: keeps the first `keep` of the sorted order when
// fewer than the alive entries (else the engine is not started: nothing changes).
__global__ void __launch_bounds__(kThreads)
    prune_apply_kernel(int8_t* __restrict__ alive, const int* __restrict__ sorted, int segment, int keep) {
  using Reduce = cub::BlockReduce<int, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ int count;
  int8_t* a = alive + static_cast<int64_t>(blockIdx.x) * segment;
  const int* order = sorted + static_cast<int64_t>(blockIdx.x) * segment;
  int c = 0;
  for (int j = threadIdx.x; j < segment; j += blockDim.x) c += a[j];
  c = Reduce(tmp).Sum(c);
  if (threadIdx.x == 0) count = c;
  __syncthreads();
  if (keep >= count) return;
  for (int j = threadIdx.x; j < segment; j += blockDim.x) a[j] = 0;
  __syncthreads();
  for (int r = threadIdx.x; r < keep; r += blockDim.x) a[order[r]] = 1;
}

// ---- the mask: alive queries x alive keys (causal: j <= i) ----------------------

// prefix[b * S + j] = alive tokens among 0..j of batch element b.
__global__ void alive_prefix_kernel(const int8_t* __restrict__ token_alive, int B, int S, int* __restrict__ prefix) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= B) return;
  int c = 0;
  for (int j = 0; j < S; ++j) prefix[b * S + j] = (c += token_alive[b * S + j]);
}

__global__ void mask_count_kernel(const int8_t* __restrict__ head_alive, const int8_t* __restrict__ token_alive,
                                  const int* __restrict__ prefix, int G, int S, int heads, bool causal,
                                  int* __restrict__ counts) {
  const int64_t rows = static_cast<int64_t>(G) * S;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r == 0) counts[rows] = 0;
  if (r >= rows) return;
  const int g = static_cast<int>(r / S), i = static_cast<int>(r % S), b = g / heads;
  const bool alive = head_alive[g] && token_alive[b * S + i];
  counts[r] = alive ? prefix[b * S + (causal ? i : S - 1)] : 0;
}

// One warp per row: the alive keys in ascending order (warp ballot).
__global__ void mask_fill_kernel(const int* __restrict__ rowptr, const int8_t* __restrict__ token_alive, int G, int S,
                                 int heads, bool causal, int* __restrict__ local_cols, int* __restrict__ global_cols) {
  const int64_t r = warp_row();
  if (r >= static_cast<int64_t>(G) * S) return;
  const int base = rowptr[r];
  if (rowptr[r + 1] == base) return;
  const int lane = threadIdx.x % kWarp;
  const int g = static_cast<int>(r / S), i = static_cast<int>(r % S), b = g / heads;
  const int n = causal ? i + 1 : S;
  const unsigned below = (1u << lane) - 1u;
  int written = 0;
  for (int j0 = 0; j0 < n; j0 += kWarp) {
    const int j = j0 + lane;
    const bool keep = j < n && token_alive[b * S + j];
    const unsigned ballot = __ballot_sync(kFullMask, keep);
    if (keep) {
      const int pos = base + written + __popc(ballot & below);
      local_cols[pos] = j;
      global_cols[pos] = g * S + j;
    }
    written += __popc(ballot);
  }
}

// ---- progressive quantisation -------------------------------------------------

// K's fixed-point code (round half up, saturated: the datapath's format) with
// its low `dropped` bits truncated: what the first pass fetches.
__global__ void msb_keys_kernel(const float* __restrict__ k, int64_t n, double scale, double lo, double hi,
                                int dropped, float* __restrict__ k_msb) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n) return;
  const double code = fmin(hi, fmax(lo, floor(static_cast<double>(k[t]) * scale + 0.5)));
  const double unit = ldexp(1.0, dropped);
  k_msb[t] = static_cast<float>(floor(code / unit) * unit / scale);
}

// One warp per row: the row's largest first-pass probability decides whether
// it is recomputed with the full keys (msb: first pass = MSB keys); the final
// scores/probs are the full ones for recomputed rows, else the first pass's.
__global__ void requant_select_kernel(const int* __restrict__ rowptr, int64_t rows, bool msb, double threshold,
                                      const float* __restrict__ s_first, const float* __restrict__ p_first,
                                      const float* __restrict__ s_full, const float* __restrict__ p_full,
                                      float* __restrict__ s_out, float* __restrict__ p_out,
                                      int8_t* __restrict__ requantised, float* __restrict__ top_prob) {
  const int64_t r = warp_row();
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int b = rowptr[r], e = rowptr[r + 1];
  float top = 0.f;
  for (int x = b + lane; x < e; x += kWarp) top = fmaxf(top, p_first[x]);
  top = warp_max(top);
  const bool redo = msb && e > b && static_cast<double>(top) < threshold;
  if (lane == 0) {
    requantised[r] = redo ? 1 : 0;
    top_prob[r] = top;
  }
  if (s_out == s_full) return;  // no MSB pass: the full values are final
  for (int x = b + lane; x < e; x += kWarp) {
    s_out[x] = redo ? s_full[x] : s_first[x];
    p_out[x] = redo ? p_full[x] : p_first[x];
  }
}

// ---- local V pruning ------------------------------------------------------------

__global__ void iota_kernel(int* __restrict__ x, int64_t n) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) x[t] = static_cast<int>(t);
}

// One warp per row: only the V rows of the ceil(v_keep * n) largest
// probabilities are used (no renormalisation): the others get weight 0.
__global__ void v_prune_kernel(const int* __restrict__ rowptr, int64_t rows, double v_keep,
                               const float* __restrict__ probs, const int* __restrict__ sorted_entries,
                               float* __restrict__ weights) {
  const int64_t r = warp_row();
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int b = rowptr[r], e = rowptr[r + 1], n = e - b;
  if (n == 0) return;
  const int keep = max(1, static_cast<int>(ceil(v_keep * n)));
  for (int x = b + lane; x < e; x += kWarp) weights[x] = keep < n ? 0.f : probs[x];
  __syncwarp();
  if (keep >= n) return;
  for (int t = lane; t < keep; t += kWarp) {
    const int x = sorted_entries[b + t];
    weights[x] = probs[x];
  }
}

// ---- importance ---------------------------------------------------------------

// Token importance: one thread per (batch element, key j) adds the
// probability j receives from every row of every head of the element, heads
// then rows in order (the simulator's order of additions).
__global__ void token_importance_kernel(const int* __restrict__ rowptr, const int* __restrict__ cols,
                                        const float* __restrict__ probs, int B, int S, int heads,
                                        double* __restrict__ score) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<int64_t>(B) * S) return;
  const int b = static_cast<int>(t / S), j = static_cast<int>(t % S);
  double acc = score[t];
  for (int h = 0; h < heads; ++h) {
    const int64_t row0 = static_cast<int64_t>(b * heads + h) * S;
    for (int i = 0; i < S; ++i) {
      int lo = rowptr[row0 + i], hi = rowptr[row0 + i + 1];
      while (lo < hi) {  // columns are sorted within a row
        const int mid = (lo + hi) / 2;
        if (cols[mid] < j) lo = mid + 1;
        else hi = mid;
      }
      if (lo < rowptr[row0 + i + 1] && cols[lo] == j) acc += static_cast<double>(probs[lo]);
    }
  }
  score[t] = acc;
}

// Head importance: one block per head adds Σ |output| in double.
__global__ void __launch_bounds__(kThreads)
    head_importance_kernel(const float* __restrict__ out, int64_t head_elems, double* __restrict__ score) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  const float* o = out + blockIdx.x * head_elems;
  double s = 0;
  for (int64_t x = threadIdx.x; x < head_elems; x += blockDim.x) s += fabs(static_cast<double>(o[x]));
  s = Reduce(tmp).Sum(s);
  if (threadIdx.x == 0) score[blockIdx.x] += s;
}

// ---- the pipeline ---------------------------------------------------------------

AlgorithmResult run_spatten(const DumpInput& in, GpuContext& ctx, const RunOptions& opt) {
  const SpattenParams P = spatten_params(in);
  const int L = in.layers, G = in.groups, S = in.seq_len, D = in.head_dim;
  const int B = P.batch, H = P.heads_per_batch;
  const int64_t rows = static_cast<int64_t>(G) * S;  // one layer's CSR rows
  const size_t layer_elems = static_cast<size_t>(rows) * D;
  const bool msb = P.dropped > 0;
  const bool v_prune = P.v_keep < 1.0;
  cudaStream_t st = ctx.stream;

  DeviceBuffer<float> q, k, v, k_msb(msb ? layer_elems : 0), out(static_cast<size_t>(L) * layer_elems);
  q.upload(in.q.data(), in.q.size(), st);
  k.upload(in.k.data(), in.k.size(), st);
  v.upload(in.v.data(), in.v.size(), st);
  // Pruning state and its per-layer record.
  DeviceBuffer<int8_t> token_alive(B * S), head_alive(G);
  DeviceBuffer<double> token_score(B * S), head_score(G);
  DeviceBuffer<int8_t> rec_token_alive(static_cast<size_t>(L) * B * S), rec_head_alive(static_cast<size_t>(L) * G);
  DeviceBuffer<double> rec_token_score(static_cast<size_t>(L) * B * S), rec_head_score(static_cast<size_t>(L) * G);
  DeviceBuffer<int8_t> requantised(static_cast<size_t>(L) * rows);
  DeviceBuffer<float> top_prob(static_cast<size_t>(L) * rows);
  DeviceBuffer<double> sort_keys(std::max(B * S, G)), sort_keys_out(std::max(B * S, G));
  DeviceBuffer<int> sort_vals(std::max(B * S, G)), sort_vals_out(std::max(B * S, G));
  DeviceBuffer<int> prefix(B * S), counts(rows + 1), rowptr(rows + 1);
  DeviceBuffer<char> scan_tmp(exclusive_scan_temp_bytes(rows + 1)), sort_tmp;
  DeviceBuffer<int> cols_local, cols_global, entry_ids, entry_sorted;
  DeviceBuffer<float> s_full, p_full, s_msb, p_msb, s_fin, p_fin, weights, key_tmp;
  SparseAttention attention(ctx);

  // Host copies of each layer's CSR (the dump's per-head view is made at the end).
  std::vector<std::vector<int>> h_rowptr(L), h_cols(L);
  std::vector<std::vector<float>> h_scores(L), h_probs(L);

  // Segment offsets i * segment (i = 0..B) of the token and head top-k.
  DeviceBuffer<int> token_segments(B + 1), head_segments(B + 1);
  {
    std::vector<int> t(B + 1), h(B + 1);
    for (int i = 0; i <= B; ++i) t[i] = i * S, h[i] = i * H;
    token_segments.upload(t.data(), t.size(), st);
    head_segments.upload(h.data(), h.size(), st);
    ctx.sync();
  }
  // Top-k of the alive entries of every batch element (segments of `segment`).
  auto prune = [&](int8_t* alive, const double* score, int segment, const DeviceBuffer<int>& offsets, int keep) {
    const int64_t n = static_cast<int64_t>(B) * segment;
    prune_keys_kernel<<<blocks_for(n), kThreads, 0, st>>>(alive, score, n, segment, sort_keys.get(), sort_vals.get());
    CHECK_LAUNCH(prune_keys_kernel);
    stable_sort_descending(sort_tmp, sort_keys.get(), sort_keys_out.get(), sort_vals.get(), sort_vals_out.get(), n, B,
                           offsets.get(), offsets.get() + 1, st);
    prune_apply_kernel<<<B, kThreads, 0, st>>>(alive, sort_vals_out.get(), segment, keep);
    CHECK_LAUNCH(prune_apply_kernel);
  };

  StepTimer timer(st);
  auto poison = [&] {
    out.fill_bytes(0xff, out.size(), st);
    rec_token_alive.fill_bytes(0x7f, rec_token_alive.size(), st);
    rec_head_alive.fill_bytes(0x7f, rec_head_alive.size(), st);
    rec_token_score.fill_bytes(0xff, rec_token_score.size(), st);
    rec_head_score.fill_bytes(0xff, rec_head_score.size(), st);
    requantised.fill_bytes(0x7f, requantised.size(), st);
    top_prob.fill_bytes(0xff, top_prob.size(), st);
  };
  timed_runs(timer, opt.warmup, opt.repeats, poison, [&] {
    token_alive.fill_bytes(1, token_alive.size(), st);  // a new run: everything alive, no importance yet
    head_alive.fill_bytes(1, head_alive.size(), st);
    token_score.fill_bytes(0, token_score.size(), st);
    head_score.fill_bytes(0, head_score.size(), st);
    for (int l = 0; l < L; ++l) {
      const size_t qoff = static_cast<size_t>(l) * layer_elems;
      const int keep_tokens = std::max(1, static_cast<int>(std::floor(S * P.tokens.keep(l, P.model_layers))));
      const int keep_heads =
          std::max(1, static_cast<int>(std::floor(H * P.heads.keep(l, P.model_layers) + 1e-9)));

      timer.start("prune_topk");
      prune(token_alive.get(), token_score.get(), S, token_segments, keep_tokens);
      prune(head_alive.get(), head_score.get(), H, head_segments, keep_heads);
      CHECK_CUDA(cudaMemcpyAsync(rec_token_alive.get() + static_cast<size_t>(l) * B * S, token_alive.get(), B * S,
                                 cudaMemcpyDeviceToDevice, st));
      CHECK_CUDA(cudaMemcpyAsync(rec_head_alive.get() + static_cast<size_t>(l) * G, head_alive.get(), G,
                                 cudaMemcpyDeviceToDevice, st));
      CHECK_CUDA(cudaMemcpyAsync(rec_token_score.get() + static_cast<size_t>(l) * B * S, token_score.get(),
                                 sizeof(double) * B * S, cudaMemcpyDeviceToDevice, st));
      CHECK_CUDA(cudaMemcpyAsync(rec_head_score.get() + static_cast<size_t>(l) * G, head_score.get(),
                                 sizeof(double) * G, cudaMemcpyDeviceToDevice, st));
      timer.stop();

      timer.start("mask_csr");
      alive_prefix_kernel<<<blocks_for(B), kThreads, 0, st>>>(token_alive.get(), B, S, prefix.get());
      CHECK_LAUNCH(alive_prefix_kernel);
      mask_count_kernel<<<blocks_for(rows), kThreads, 0, st>>>(head_alive.get(), token_alive.get(), prefix.get(), G,
                                                               S, H, in.causal, counts.get());
      CHECK_LAUNCH(mask_count_kernel);
      exclusive_scan(scan_tmp.get(), scan_tmp.bytes(), counts.get(), rowptr.get(), rows + 1, st);
      int nnz = 0;
      CHECK_CUDA(cudaMemcpyAsync(&nnz, rowptr.get() + rows, sizeof(int), cudaMemcpyDeviceToHost, st));
      ctx.sync();  // the host needs nnz for the buffers and the cuSPARSE descriptors
      for (auto* b : {&s_full, &p_full, &s_fin, &p_fin, &weights, &key_tmp}) b->ensure(nnz);
      cols_local.ensure(nnz);
      cols_global.ensure(nnz);
      if (msb) {
        s_msb.ensure(nnz);
        p_msb.ensure(nnz);
      }
      mask_fill_kernel<<<row_blocks(rows), kRowsPerBlock * kWarp, 0, st>>>(rowptr.get(), token_alive.get(), G, S, H,
                                                                           in.causal, cols_local.get(),
                                                                           cols_global.get());
      CHECK_LAUNCH(mask_fill_kernel);
      timer.stop();

      timer.start("sddmm");
      const float alpha = static_cast<float>(in.scale);
      attention.sddmm(rowptr.get(), cols_global.get(), rows, D, nnz, q.get() + qoff, k.get() + qoff, alpha,
                      s_full.get());
      if (msb) {
        msb_keys_kernel<<<blocks_for(layer_elems), kThreads, 0, st>>>(k.get() + qoff, layer_elems, P.fixed_scale,
                                                                      P.code_lo, P.code_hi, P.dropped, k_msb.get());
        CHECK_LAUNCH(msb_keys_kernel);
        attention.sddmm(rowptr.get(), cols_global.get(), rows, D, nnz, q.get() + qoff, k_msb.get(), alpha,
                        s_msb.get());
      }
      timer.stop();

      timer.start("softmax_requant");
      if (nnz > 0) {
        launch_csr_softmax(rowptr.get(), s_full.get(), p_full.get(), rows, st);
        if (msb) launch_csr_softmax(rowptr.get(), s_msb.get(), p_msb.get(), rows, st);
      }
      float* s_out = msb ? s_fin.get() : s_full.get();
      float* p_out = msb ? p_fin.get() : p_full.get();
      requant_select_kernel<<<row_blocks(rows), kRowsPerBlock * kWarp, 0, st>>>(
          rowptr.get(), rows, msb, P.requant_threshold, msb ? s_msb.get() : s_full.get(),
          msb ? p_msb.get() : p_full.get(), s_full.get(), p_full.get(), s_out, p_out,
          requantised.get() + static_cast<size_t>(l) * rows, top_prob.get() + static_cast<size_t>(l) * rows);
      CHECK_LAUNCH(requant_select_kernel);
      timer.stop();

      const float* av_weights = p_out;
      if (v_prune && nnz > 0) {
        timer.start("v_prune_topk");
        entry_ids.ensure(nnz);
        entry_sorted.ensure(nnz);
        iota_kernel<<<blocks_for(nnz), kThreads, 0, st>>>(entry_ids.get(), nnz);
        CHECK_LAUNCH(iota_kernel);
        stable_sort_descending(sort_tmp, p_out, key_tmp.get(), entry_ids.get(), entry_sorted.get(), nnz, rows,
                               rowptr.get(), rowptr.get() + 1, st);
        v_prune_kernel<<<row_blocks(rows), kRowsPerBlock * kWarp, 0, st>>>(rowptr.get(), rows, P.v_keep, p_out,
                                                                           entry_sorted.get(), weights.get());
        CHECK_LAUNCH(v_prune_kernel);
        av_weights = weights.get();
        timer.stop();
      }

      timer.start("spmm");
      float* out_l = out.get() + qoff;
      attention.spmm(rowptr.get(), cols_global.get(), rows, D, nnz, av_weights, v.get() + qoff, out_l);
      timer.stop();

      timer.start("importance");
      token_importance_kernel<<<blocks_for(static_cast<int64_t>(B) * S), kThreads, 0, st>>>(
          rowptr.get(), cols_local.get(), p_out, B, S, H, token_score.get());
      CHECK_LAUNCH(token_importance_kernel);
      head_importance_kernel<<<G, kThreads, 0, st>>>(out_l, static_cast<int64_t>(S) * D, head_score.get());
      CHECK_LAUNCH(head_importance_kernel);
      timer.stop();

      timer.start("download_csr");  // the layer's mask and values, for the output files
      h_rowptr[l].resize(rows + 1);
      h_cols[l].resize(nnz);
      h_scores[l].resize(nnz);
      h_probs[l].resize(nnz);
      rowptr.download(h_rowptr[l].data(), rows + 1, st);
      if (nnz > 0) {
        cols_local.download(h_cols[l].data(), nnz, st);
        CHECK_CUDA(cudaMemcpyAsync(h_scores[l].data(), s_out, sizeof(float) * nnz, cudaMemcpyDeviceToHost, st));
        CHECK_CUDA(cudaMemcpyAsync(h_probs[l].data(), p_out, sizeof(float) * nnz, cudaMemcpyDeviceToHost, st));
      }
      ctx.sync();
      timer.stop();
    }
  });

  // ---- results of the last run ----
  AlgorithmResult res;
  NpyArray a_out = make_array(DType::f32, {L, G, S, D});
  out.download(a_out.as<float>(), a_out.count(), st);
  NpyArray a_talive = make_array(DType::i8, {L, B, S}), a_timp = make_array(DType::f64, {L, B, S});
  NpyArray a_halive = make_array(DType::i8, {L, G}), a_himp = make_array(DType::f64, {L, G});
  NpyArray a_req = make_array(DType::i8, {L, G, S}), a_top = make_array(DType::f32, {L, G, S});
  rec_token_alive.download(a_talive.as<int8_t>(), a_talive.count(), st);
  rec_token_score.download(a_timp.as<double>(), a_timp.count(), st);
  rec_head_alive.download(a_halive.as<int8_t>(), a_halive.count(), st);
  rec_head_score.download(a_himp.as<double>(), a_himp.count(), st);
  requantised.download(a_req.as<int8_t>(), a_req.count(), st);
  top_prob.download(a_top.as<float>(), a_top.count(), st);
  ctx.sync();

  // Per-head CSR views (docs/dump_format.md): indptr from 0 per head, offsets into the concatenation.
  int64_t nnz_total = 0;
  for (int l = 0; l < L; ++l) nnz_total += static_cast<int64_t>(h_cols[l].size());
  NpyArray a_indptr = make_array(DType::i32, {L, G, S + 1}), a_offsets = make_array(DType::i64, {L * G + 1});
  NpyArray a_indices = make_array(DType::i32, {nnz_total}), a_scores = make_array(DType::f32, {nnz_total}),
           a_probs = make_array(DType::f32, {nnz_total});
  int64_t base = 0;
  for (int l = 0; l < L; ++l) {
    for (int g = 0; g < G; ++g) {
      const int first = h_rowptr[l][static_cast<size_t>(g) * S];
      for (int i = 0; i <= S; ++i)
        a_indptr.as<int>()[(static_cast<size_t>(l) * G + g) * (S + 1) + i] = h_rowptr[l][static_cast<size_t>(g) * S + i] - first;
      a_offsets.as<int64_t>()[static_cast<size_t>(l) * G + g] = base + first;
    }
    std::copy(h_cols[l].begin(), h_cols[l].end(), a_indices.as<int>() + base);
    std::copy(h_scores[l].begin(), h_scores[l].end(), a_scores.as<float>() + base);
    std::copy(h_probs[l].begin(), h_probs[l].end(), a_probs.as<float>() + base);
    base += static_cast<int64_t>(h_cols[l].size());
  }
  a_offsets.as<int64_t>()[static_cast<size_t>(L) * G] = base;

  res.tensors.emplace_back("token_alive", std::move(a_talive));
  res.tensors.emplace_back("token_importance", std::move(a_timp));
  res.tensors.emplace_back("head_alive", std::move(a_halive));
  res.tensors.emplace_back("head_importance", std::move(a_himp));
  res.tensors.emplace_back("row_requantised", std::move(a_req));
  res.tensors.emplace_back("row_top_prob", std::move(a_top));
  res.tensors.emplace_back("mask_indptr", std::move(a_indptr));
  res.tensors.emplace_back("mask_indices", std::move(a_indices));
  res.tensors.emplace_back("mask_offsets", std::move(a_offsets));
  res.tensors.emplace_back("scores", std::move(a_scores));
  res.tensors.emplace_back("probs", std::move(a_probs));
  res.tensors.emplace_back("output", std::move(a_out));
  res.timings = timer.summary();
  res.nnz = nnz_total;
  res.notes.emplace_back("prune_topk", "cub::DeviceSegmentedSort::StableSortPairsDescending of (importance, index) per "
                                       "batch element, pruned entries at -inf; first k kept (ties: lower index)");
  res.notes.emplace_back("sddmm", attention.sddmm_note());
  res.notes.emplace_back("spmm", SparseAttention::spmm_note());
  res.notes.emplace_back("importance", "tokens: Σ over heads then rows of the probabilities (double, the simulator's "
                                       "order); heads: Σ |output| (double, block reduction)");
  res.notes.emplace_back("progressive_quantisation",
                         msb ? "K rounded to " + P.number_format + " (half up, saturated), low " +
                                   std::to_string(P.dropped) + " bits truncated for the first pass; rows with max "
                                   "probability < requant_threshold recomputed with fp32 K"
                             : std::string("off (fp32 format or no msb_bits: one pass with fp32 K)"));
  if (v_prune) res.notes.emplace_back("v_prune", "per-row stable segmented sort of the probabilities; V rows of the "
                                                 "ceil(v_keep * n) largest weighted, no renormalisation");
  return res;
}

const Algorithm kSpatten{"spatten_pruner", &validate_spatten, &run_spatten};

}  // namespace

const Algorithm& spatten_algorithm() { return kSpatten; }

}  // namespace gpu_ref
