#include "algorithms/elsa.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/csr.cuh"
#include "common/softmax.cuh"
#include "common/sparse_attention.cuh"
#include "common/warp.cuh"

namespace gpu_ref {

namespace {

using json = nlohmann::ordered_json;
using u64 = unsigned long long;

constexpr double kPi = 3.14159265358979323846;

// ---- parameters (params of the dump; docs/dump_format.md, docs/elsa.md) ------------

struct ElsaParams {
  int bits = 64;             // k
  int words = 1;             // ceil(k / 64)
  double threshold = 1e-3;
  double log_inv_p = 0;      // the keep rule's bound, as the dump carries it
  json seed;                 // recorded only (the projection is read, not regenerated)
  std::vector<float> projection;  // k x d, row-major
  std::vector<int> cos_table;     // k + 1
};

ElsaParams elsa_params(const DumpInput& in) {
  ElsaParams p;
  const json& params = in.meta->at("params");
  p.bits = in.param_int("hash_bits");
  if (p.bits < 1 || p.bits > 256) in.fail_param("hash_bits", "must be 1 to 256");
  p.words = (p.bits + 63) / 64;
  p.threshold = in.param_number("threshold");
  if (!(p.threshold > 0 && p.threshold <= 1)) in.fail_param("threshold", "must be in (0, 1]");
  p.log_inv_p = in.param_number("log_inv_p");
  if (p.log_inv_p < 0) in.fail_param("log_inv_p", "must be >= 0");
  // The simulator computes log(1 / threshold) once; a value that is not that
  // (beyond rounding) means the dump's parameters disagree with each other.
  const double want = std::log(1.0 / p.threshold);
  if (std::fabs(p.log_inv_p - want) > 1e-12 * std::fmax(1.0, std::fabs(want)))
    in.fail_param("log_inv_p", "is " + json(p.log_inv_p).dump() + ", but log(1 / threshold) = " + json(want).dump());
  if (!params.contains("seed") || !params["seed"].is_number_integer()) in.fail_param("seed", "expected an integer");
  p.seed = params["seed"];

  const int D = in.head_dim;
  if (!params.contains("projection") || !params["projection"].is_array() ||
      params["projection"].size() != static_cast<size_t>(p.bits))
    in.fail_param("projection", "expected hash_bits = " + std::to_string(p.bits) + " rows of head_dim = " +
                                    std::to_string(D) + " numbers");
  p.projection.reserve(static_cast<size_t>(p.bits) * D);
  for (int t = 0; t < p.bits; ++t) {
    const json& row = params["projection"][t];
    if (!row.is_array() || row.size() != static_cast<size_t>(D))
      in.fail_param("projection[" + std::to_string(t) + "]", "expected " + std::to_string(D) + " numbers");
    for (int j = 0; j < D; ++j) {
      if (!row[j].is_number() || !std::isfinite(row[j].get<double>()))
        in.fail_param("projection[" + std::to_string(t) + "][" + std::to_string(j) + "]", "expected a finite number");
      p.projection.push_back(static_cast<float>(row[j].get<double>()));
    }
  }

  if (!params.contains("cos_table") || !params["cos_table"].is_array() ||
      params["cos_table"].size() != static_cast<size_t>(p.bits) + 1)
    in.fail_param("cos_table", "expected hash_bits + 1 = " + std::to_string(p.bits + 1) + " integers");
  for (int h = 0; h <= p.bits; ++h) {
    const json& c = params["cos_table"][h];
    // The table is part of the contract: llround(cos((pi * h) / k) * 32768).
    const long long want_c = std::llround(std::cos(kPi * h / p.bits) * 32768.0);
    if (!c.is_number_integer() || c.get<long long>() != want_c)
      in.fail_param("cos_table[" + std::to_string(h) + "]",
                    "is " + c.dump() + ", expected llround(cos(pi * h / k) * 32768) = " + std::to_string(want_c));
    p.cos_table.push_back(static_cast<int>(want_c));
  }
  return p;
}

void validate_elsa(const DumpInput& in) {
  elsa_params(in);
  require_int32_csr(in);
}

// ---- hash and norm ----------------------------------------------------------------------

// One warp per (row, word): lane l computes bits 64 w + l and 64 w + 32 + l of
// row r (dot products in double, j in order, no FMA); the two ballots are the
// word's low and high halves. Bits >= k are 0.
__global__ void hash_kernel(const float* __restrict__ x, const float* __restrict__ proj, int64_t rows, int D, int bits,
                            int words, u64* __restrict__ hashes) {
  const int64_t item = warp_row();
  if (item >= rows * words) return;  // the whole warp leaves together
  const int lane = threadIdx.x % kWarp;
  const int64_t r = item / words;
  const int w = static_cast<int>(item % words);
  const float* xr = x + r * D;
  bool bit[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int t = 64 * w + 32 * half + lane;
    bit[half] = false;
    if (t < bits) {
      const float* a = proj + static_cast<int64_t>(t) * D;
      double acc = 0.0;
      for (int j = 0; j < D; ++j)
        acc = __dadd_rn(acc, __dmul_rn(static_cast<double>(a[j]), static_cast<double>(xr[j])));
      bit[half] = acc >= 0.0;
    }
  }
  const unsigned lo = __ballot_sync(kFullMask, bit[0]);
  const unsigned hi = __ballot_sync(kFullMask, bit[1]);
  if (lane == 0) hashes[item] = static_cast<u64>(lo) | (static_cast<u64>(hi) << 32);
}

// One thread per row: sqrt(sum_j double(x_j) * double(x_j)), j in order, no FMA.
__global__ void norm_kernel(const float* __restrict__ x, int64_t rows, int D, double* __restrict__ norms) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const float* xr = x + r * D;
  double acc = 0.0;
  for (int j = 0; j < D; ++j) {
    const double v = static_cast<double>(xr[j]);
    acc = __dadd_rn(acc, __dmul_rn(v, v));
  }
  norms[r] = __dsqrt_rn(acc);
}

// ---- candidate selection -> CSR ----------------------------------------------------------

struct SelectArgs {
  const u64* q_hash;
  const u64* k_hash;
  const double* q_norm;
  const double* k_norm;
  const int* cos_table;
  int S, words;
  bool causal;
  double scale, log_inv_p;
};

// e_ij = double(c[popcount(q_i ^ k_j)]) * |k_j| (r = h * S + i, key row h * S + j).
__device__ __forceinline__ double estimate(const SelectArgs& a, int64_t r, int64_t key_row) {
  const u64* qh = a.q_hash + r * a.words;
  const u64* kh = a.k_hash + key_row * a.words;
  int dist = 0;
  for (int w = 0; w < a.words; ++w) dist += __popcll(qh[w] ^ kh[w]);
  return __dmul_rn(static_cast<double>(a.cos_table[dist]), a.k_norm[key_row]);
}

// ((m - e) * |q|) * scale / 32768 <= log_inv_p, each operation rounded on its own.
__device__ __forceinline__ bool keep(const SelectArgs& a, double m, double e, double nq) {
  const double bound = __ddiv_rn(__dmul_rn(__dmul_rn(__dsub_rn(m, e), nq), a.scale), 32768.0);
  return bound <= a.log_inv_p;
}

// One warp per query row r: the row maximum of the estimates (exact in any
// order) and the number of kept keys; counts[rows] = 0 (the scan's tail).
__global__ void select_count_kernel(SelectArgs a, int64_t rows, int* __restrict__ counts,
                                    double* __restrict__ row_max) {
  const int64_t r = warp_row();
  if (r == 0 && threadIdx.x == 0) counts[rows] = 0;
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int64_t h = r / a.S;
  const int i = static_cast<int>(r % a.S);
  const int n = a.causal ? i + 1 : a.S;
  const int64_t key0 = h * a.S;
  double m = -INFINITY;
  for (int j = lane; j < n; j += kWarp) m = fmax(m, estimate(a, r, key0 + j));
  m = warp_max(m);
  const double nq = a.q_norm[r];
  int cnt = 0;
  for (int j = lane; j < n; j += kWarp) cnt += keep(a, m, estimate(a, r, key0 + j), nq);
  cnt = warp_sum_int(cnt);
  if (lane == 0) {
    counts[r] = cnt;
    row_max[r] = m;
  }
}

// One warp per query row: the kept keys at rowptr[r], ascending (warp ballot),
// local (j) and global (h * S + j) columns.
__global__ void select_fill_kernel(SelectArgs a, int64_t rows, const int* __restrict__ rowptr,
                                   const double* __restrict__ row_max, int* __restrict__ local_cols,
                                   int* __restrict__ global_cols) {
  const int64_t r = warp_row();
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int64_t h = r / a.S;
  const int i = static_cast<int>(r % a.S);
  const int n = a.causal ? i + 1 : a.S;
  const int64_t key0 = h * a.S;
  const double m = row_max[r], nq = a.q_norm[r];
  const int base = rowptr[r];
  const unsigned below = (1u << lane) - 1u;
  int written = 0;
  for (int j0 = 0; j0 < n; j0 += kWarp) {  // n is the same for the whole warp: the ballot is safe
    const int j = j0 + lane;
    const bool kept = j < n && keep(a, m, estimate(a, r, key0 + j), nq);
    const unsigned ballot = __ballot_sync(kFullMask, kept);
    if (kept) {
      const int pos = base + written + __popc(ballot & below);
      local_cols[pos] = j;
      global_cols[pos] = static_cast<int>(key0 + j);
    }
    written += __popc(ballot);
  }
}

// ---- the pipeline -----------------------------------------------------------------------

AlgorithmResult run_elsa(const DumpInput& in, GpuContext& ctx, const RunOptions& opt) {
  const ElsaParams P = elsa_params(in);
  const int64_t H = in.heads();
  const int S = in.seq_len, D = in.head_dim, W = P.words;
  const int64_t HS = H * S;
  const size_t sd = static_cast<size_t>(S) * D;
  cudaStream_t st = ctx.stream;

  DeviceBuffer<float> q, k, v, proj, out(H * sd);
  q.upload(in.q.data(), in.q.size(), st);
  k.upload(in.k.data(), in.k.size(), st);
  v.upload(in.v.data(), in.v.size(), st);
  proj.upload(P.projection.data(), P.projection.size(), st);
  DeviceBuffer<int> cos_table;
  cos_table.upload(P.cos_table.data(), P.cos_table.size(), st);
  DeviceBuffer<u64> q_hash(HS * W), k_hash(HS * W);
  DeviceBuffer<double> q_norm(HS), k_norm(HS), row_max(HS);
  DeviceBuffer<int> counts(HS + 1), rowptr(HS + 1), indptr(H * (S + 1));
  DeviceBuffer<int64_t> offsets(H + 1);
  DeviceBuffer<char> scan_tmp(exclusive_scan_temp_bytes(HS + 1));
  DeviceBuffer<int> cols_local, cols_global;  // [nnz], grown on the first run
  DeviceBuffer<float> scores, probs;           // [nnz]
  SparseAttention attention(ctx);

  const SelectArgs args{q_hash.get(), k_hash.get(), q_norm.get(), k_norm.get(), cos_table.get(), S, W,
                        in.causal, in.scale, P.log_inv_p};
  int nnz = 0;

  StepTimer timer(st);
  // Poison every output buffer before each run (untimed): all-ones hashes
  // (bits beyond k set), NaN norms / probabilities / outputs, -1 indices.
  auto poison = [&] {
    q_hash.fill_bytes(0xff, q_hash.size(), st);
    k_hash.fill_bytes(0xff, k_hash.size(), st);
    q_norm.fill_bytes(0xff, q_norm.size(), st);
    k_norm.fill_bytes(0xff, k_norm.size(), st);
    indptr.fill_bytes(0xff, indptr.size(), st);
    offsets.fill_bytes(0xff, offsets.size(), st);
    if (cols_local.size()) cols_local.fill_bytes(0xff, cols_local.size(), st);
    if (probs.size()) probs.fill_bytes(0xff, probs.size(), st);
    out.fill_bytes(0xff, out.size(), st);
  };
  timed_runs(timer, opt.warmup, opt.repeats, poison, [&] {
    timer.start("hash");
    const unsigned hash_blocks = row_blocks(HS * W);
    hash_kernel<<<hash_blocks, kRowsPerBlock * kWarp, 0, st>>>(q.get(), proj.get(), HS, D, P.bits, W, q_hash.get());
    CHECK_LAUNCH(hash_kernel);
    hash_kernel<<<hash_blocks, kRowsPerBlock * kWarp, 0, st>>>(k.get(), proj.get(), HS, D, P.bits, W, k_hash.get());
    CHECK_LAUNCH(hash_kernel);
    const unsigned norm_blocks = static_cast<unsigned>((HS + 127) / 128);
    norm_kernel<<<norm_blocks, 128, 0, st>>>(q.get(), HS, D, q_norm.get());
    CHECK_LAUNCH(norm_kernel);
    norm_kernel<<<norm_blocks, 128, 0, st>>>(k.get(), HS, D, k_norm.get());
    CHECK_LAUNCH(norm_kernel);
    timer.stop();

    timer.start("select_csr");
    select_count_kernel<<<row_blocks(HS), kRowsPerBlock * kWarp, 0, st>>>(args, HS, counts.get(), row_max.get());
    CHECK_LAUNCH(select_count_kernel);
    exclusive_scan(scan_tmp.get(), scan_tmp.bytes(), counts.get(), rowptr.get(), HS + 1, st);
    CHECK_CUDA(cudaMemcpyAsync(&nnz, rowptr.get() + HS, sizeof(int), cudaMemcpyDeviceToHost, st));
    ctx.sync();  // the host needs nnz for the buffers and the cuSPARSE descriptors
    cols_local.ensure(nnz);
    cols_global.ensure(nnz);
    scores.ensure(nnz);
    probs.ensure(nnz);
    select_fill_kernel<<<row_blocks(HS), kRowsPerBlock * kWarp, 0, st>>>(args, HS, rowptr.get(), row_max.get(),
                                                                          cols_local.get(), cols_global.get());
    CHECK_LAUNCH(select_fill_kernel);
    launch_head_indptr(rowptr.get(), H, S, indptr.get(), offsets.get(), st);
    timer.stop();

    timer.start("sddmm");
    attention.sddmm(rowptr.get(), cols_global.get(), HS, D, nnz, q.get(), k.get(), static_cast<float>(in.scale),
                    scores.get());
    timer.stop();
    timer.start("csr_softmax");
    if (nnz > 0) launch_csr_softmax(rowptr.get(), scores.get(), probs.get(), HS, st);
    timer.stop();
    timer.start("spmm");  // rows with an empty mask stay 0 (none here: the row maximum is always kept)
    attention.spmm(rowptr.get(), cols_global.get(), HS, D, nnz, probs.get(), v.get(), out.get());
    timer.stop();
  });

  // ---- results of the last run ----
  AlgorithmResult res;
  const int64_t L = in.layers, G = in.groups;
  NpyArray a_qh = make_array(DType::i64, {L, G, S, W}), a_kh = make_array(DType::i64, {L, G, S, W});
  static_assert(sizeof(u64) == sizeof(int64_t), "hash words are stored as int64 bit patterns");
  q_hash.download(reinterpret_cast<u64*>(a_qh.as<int64_t>()), a_qh.count(), st);
  k_hash.download(reinterpret_cast<u64*>(a_kh.as<int64_t>()), a_kh.count(), st);
  NpyArray a_qn = make_array(DType::f64, {L, G, S}), a_kn = make_array(DType::f64, {L, G, S});
  q_norm.download(a_qn.as<double>(), a_qn.count(), st);
  k_norm.download(a_kn.as<double>(), a_kn.count(), st);
  auto csr = download_csr_results(L, G, S, D, nnz, indptr, cols_local, offsets, scores, probs, out, st);
  ctx.sync();

  res.tensors.emplace_back("q_hash", std::move(a_qh));
  res.tensors.emplace_back("k_hash", std::move(a_kh));
  res.tensors.emplace_back("q_norm", std::move(a_qn));
  res.tensors.emplace_back("k_norm", std::move(a_kn));
  for (auto& t : csr) res.tensors.push_back(std::move(t));
  res.timings = timer.summary();
  res.nnz = nnz;
  res.notes.emplace_back("projection", "params.projection (" + std::to_string(P.bits) + " x " + std::to_string(D) +
                                           ", rounded to float32) as the dump carries it, not regenerated from seed " +
                                           P.seed.dump());
  res.notes.emplace_back("hash", "one warp per (row, 64-bit word): bit t = (sum_j __dmul_rn(A[t][j], x[j]) summed "
                                 "with __dadd_rn in j order) >= 0, two __ballot_sync per word; norms one thread per "
                                 "row (__dmul_rn, __dadd_rn, __dsqrt_rn)");
  res.notes.emplace_back("select", "one warp per query row: H = __popcll(q ^ k) over the words, e = c[H] * |k| "
                                   "(__dmul_rn), row max by warp reduction, keep iff ((m - e) * |q|) * scale / 32768 "
                                   "<= log_inv_p = " + json(P.log_inv_p).dump() +
                                   " (__dsub_rn, __dmul_rn, __ddiv_rn); count kernel + CUB exclusive scan + fill "
                                   "kernel (warp ballot)");
  if (opt.full) res.notes.emplace_back("full", "elsa writes no dense intermediates: --full changes nothing");
  res.notes.emplace_back("sddmm", attention.sddmm_note());
  res.notes.emplace_back("spmm", SparseAttention::spmm_note());
  return res;
}

const Algorithm kElsa{"elsa", &validate_elsa, &run_elsa};

}  // namespace

const Algorithm& elsa_algorithm() { return kElsa; }

}  // namespace gpu_ref
