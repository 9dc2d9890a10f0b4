#include "algorithms/sanger.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include <cub/block/block_reduce.cuh>
#include <nlohmann/json.hpp>

#include "common/csr.cuh"
#include "common/sparse_attention.cuh"
#include "common/softmax.cuh"
#include "common/warp.cuh"

namespace gpu_ref {

namespace {

// A datapath number format of the dump ("fp32" or "fixedW.F"), as far as the
// predictor's row maximum needs it (row_max = predictor).
struct Format {
  bool fixed = false;
  int width = 32, frac = 0;
};

Format parse_format(const DumpInput& in, const char* key) {
  const std::string text = in.param_string_or(key, "fp32");
  Format f;
  if (text == "fp32") return f;
  int w = 0, fr = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "fixed%d.%d%c", &w, &fr, &tail) != 2 || text.rfind("fixed", 0) != 0 || w < 2 ||
      w > 32 || fr < 0 || fr >= w)
    in.fail_param(key, "expected \"fp32\" or \"fixedW.F\" with 2 <= W <= 32, 0 <= F < W (got \"" + text + "\")");
  f.fixed = true;
  f.width = w;
  f.frac = fr;
  return f;
}

struct SangerParams {
  int bits = 4;
  double threshold = 2e-3;
  bool keep_row_max = true;
  // normalize_qk = "inner_product" (Sanger's public code): Q and K rows divided
  // by their L2 norms before quantisation, the score multiplied back by both.
  bool normalize = false;
  // quant_scope = "layer": one absmax per layer (all its groups) instead of one per head.
  bool layer_scope = false;
  // The float32 recipe (scales, codes) with a double prediction: whenever
  // normalize_qk or quant_scope is present in params. Without either, the
  // first recipe (double scales and codes, fp32 prediction), so that old dumps
  // keep their meaning.
  bool f32_recipe = false;
  // row_max = "predictor": the exact softmax subtracts the row's largest
  // predicted score among its kept entries instead of its own maximum.
  bool row_max_predictor = false;
  Format data, prob;  // number_format / prob_format (read with row_max = predictor only)
};

SangerParams sanger_params(const DumpInput& in) {
  SangerParams p;
  p.bits = in.param_int("bits");
  if (p.bits < 2 || p.bits > 8) in.fail_param("bits", "must be 2 to 8 (the prediction GEMM is int8)");
  p.threshold = in.param_number("threshold");
  p.keep_row_max = in.param_bool_or("keep_row_max", true);
  const nlohmann::ordered_json& params = in.meta->at("params");
  if (params.contains("normalize_qk")) {
    const std::string v = in.param_string_or("normalize_qk", "none");
    if (v != "inner_product" && v != "none") in.fail_param("normalize_qk", "expected \"inner_product\" or \"none\"");
    p.normalize = v == "inner_product";
    p.f32_recipe = true;
  }
  if (params.contains("quant_scope")) {
    const std::string v = in.param_string_or("quant_scope", "head");
    if (v != "layer" && v != "head") in.fail_param("quant_scope", "expected \"layer\" or \"head\"");
    p.layer_scope = v == "layer";
    p.f32_recipe = true;
  }
  if (params.contains("row_max")) {
    const std::string v = in.param_string_or("row_max", "pass");
    if (v != "predictor" && v != "pass") in.fail_param("row_max", "expected \"predictor\" or \"pass\"");
    p.row_max_predictor = v == "predictor";
  }
  if (p.row_max_predictor) {
    p.data = parse_format(in, "number_format");
    p.prob = parse_format(in, "prob_format");
  }
  return p;
}

void validate_sanger(const DumpInput& in) {
  sanger_params(in);
  require_int32_csr(in);
}

// ---- quantise -------------------------------------------------------------

constexpr int kReduceThreads = 256;

struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Block-wide (kReduceThreads threads, one block per head h): the largest |x|
// of the head's Q and of its K; the result is valid in thread 0.
__device__ __forceinline__ void head_absmax(const float* __restrict__ q, const float* __restrict__ k, int64_t h,
                                            int64_t head_elems, float& mq, float& mk) {
  using Reduce = cub::BlockReduce<float, kReduceThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  const float* qh = q + h * head_elems;
  const float* kh = k + h * head_elems;
  mq = 0.f, mk = 0.f;
  for (int64_t i = threadIdx.x; i < head_elems; i += blockDim.x) {
    mq = fmaxf(mq, fabsf(qh[i]));
    mk = fmaxf(mk, fabsf(kh[i]));
  }
  mq = Reduce(tmp).Reduce(mq, MaxOp());
  __syncthreads();  // tmp is reused
  mk = Reduce(tmp).Reduce(mk, MaxOp());
}

// One block per head: absmax of the head's whole Q and K, then the scales
// (double, as the simulator: qmax / absmax, 1 for an all-zero tensor), the
// stored float scales [H, 2] and the prediction rescale
// float(scale / (s_q * s_k)).
__global__ void __launch_bounds__(kReduceThreads)
    absmax_scales_kernel(const float* __restrict__ q, const float* __restrict__ k, int64_t head_elems, double qmax,
                         double scale, double* __restrict__ qs, double* __restrict__ ks, float* __restrict__ scales_out,
                         float* __restrict__ rescale) {
  const int64_t h = blockIdx.x;
  float mq, mk;
  head_absmax(q, k, h, head_elems, mq, mk);
  if (threadIdx.x == 0) {
    const double sq = mq > 0.f ? qmax / static_cast<double>(mq) : 1.0;
    const double sk = mk > 0.f ? qmax / static_cast<double>(mk) : 1.0;
    qs[h] = sq;
    ks[h] = sk;
    scales_out[2 * h] = static_cast<float>(sq);
    scales_out[2 * h + 1] = static_cast<float>(sk);
    rescale[h] = static_cast<float>(scale / (sq * sk));
  }
}

// x [H, S, D] float -> out [H, S, Dp] int8 (Dp >= D, zero padded):
// rint(x * scale) in double (round half to even), clamped to +-qmax.
__global__ void quantize_kernel(const float* __restrict__ x, const double* __restrict__ head_scale, int64_t H, int S,
                                int D, int Dp, double qmax, int8_t* __restrict__ out) {
  const int64_t total = H * S * Dp;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = t / Dp;
    const int c = static_cast<int>(t % Dp);
    int8_t val = 0;
    if (c < D) {
      double v = rint(static_cast<double>(x[row * D + c]) * head_scale[row / S]);
      v = fmax(-qmax, fmin(qmax, v));
      val = static_cast<int8_t>(v);
    }
    out[t] = val;
  }
}

// ---- the float32 recipe (normalize_qk / quant_scope present) ---------------
// Every operation below is one IEEE float32 operation, round to nearest
// (__fmul_rn, __fadd_rn, __fdiv_rn, __fsqrt_rn: no contraction into FMA), so
// that the codes match the simulator's (src/kernels/sanger_predict.cpp) bit
// for bit.

// One thread per row of D elements: norms[r] = ||x_r|| summed as torch's CPU
// kernel does (8 lane accumulators, element c into lane c % 8 in order, then
// the lanes left to right), xhat = x / norm (0 for a zero row).
__global__ void l2_normalise_kernel(const float* __restrict__ x, int64_t rows, int D, float* __restrict__ xhat,
                                    float* __restrict__ norms) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const float* xr = x + r * D;
  float lane[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  for (int c0 = 0; c0 < D; c0 += 8) {
#pragma unroll
    for (int l = 0; l < 8; ++l)
      if (c0 + l < D) lane[l] = __fadd_rn(lane[l], __fmul_rn(xr[c0 + l], xr[c0 + l]));
  }
  float total = lane[0];
#pragma unroll
  for (int l = 1; l < 8; ++l) total = __fadd_rn(total, lane[l]);
  const float n = __fsqrt_rn(total);
  norms[r] = n;
  float* out = xhat + r * D;
  for (int c = 0; c < D; ++c) out[c] = n > 0.f ? __fdiv_rn(xr[c], n) : 0.f;
}

// One block per head: absmax[2h] of the head's (normalised) Q, absmax[2h + 1] of its K.
__global__ void __launch_bounds__(kReduceThreads)
    absmax_kernel(const float* __restrict__ q, const float* __restrict__ k, int64_t head_elems,
                  float* __restrict__ absmax) {
  const int64_t h = blockIdx.x;
  float mq, mk;
  head_absmax(q, k, h, head_elems, mq, mk);
  if (threadIdx.x == 0) {
    absmax[2 * h] = mq;
    absmax[2 * h + 1] = mk;
  }
}

// One thread per head: A = the head's absmax, or with layer scope the largest
// over the `groups` heads of its layer (a max: exact in any order);
// s = float(float(1 / A) * qmax), 1 for A = 0. scales [H, 2] = (s_q, s_k).
__global__ void f32_scales_kernel(const float* __restrict__ absmax, int64_t H, int groups, bool layer_scope,
                                  float qmax, float* __restrict__ scales) {
  const int64_t h = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (h >= H) return;
  for (int t = 0; t < 2; ++t) {
    float a = absmax[2 * h + t];
    if (layer_scope) {
      const int64_t first = h / groups * groups;
      a = 0.f;
      for (int g = 0; g < groups; ++g) a = fmaxf(a, absmax[2 * (first + g) + t]);
    }
    scales[2 * h + t] = a > 0.f ? __fmul_rn(__fdiv_rn(1.f, a), qmax) : 1.f;
  }
}

// x [H, S, D] float -> out [H, S, Dp] int8 (zero padded): clamp(rint(float(x * s)), +-qmax),
// round half to even; s = scales[2 h + which].
__global__ void quantize_f32_kernel(const float* __restrict__ x, const float* __restrict__ scales, int which, int64_t H,
                                    int S, int D, int Dp, int qmax, int8_t* __restrict__ out) {
  const int64_t total = H * S * Dp;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = t / Dp;
    const int c = static_cast<int>(t % Dp);
    int8_t val = 0;
    if (c < D) {
      const int code = __float2int_rn(__fmul_rn(x[row * D + c], scales[2 * (row / S) + which]));
      val = static_cast<int8_t>(max(-qmax, min(qmax, code)));
    }
    out[t] = val;
  }
}

// One warp per row (h, i): Ŝ_ij = double(acc_ij) / (double(s_q) * double(s_k))
// [* (double(‖q_i‖) * double(‖k_j‖)) with norms] * scale, softmax over the
// row's keys (causal: j <= i) in double. Writes pred_scores = float(Ŝ),
// pred_probs = float(P) (files) and the double P the mask is decided on.
__global__ void predict_f64_kernel(const int32_t* __restrict__ acc, int64_t ld_acc, const float* __restrict__ scales,
                                   const float* __restrict__ q_norm, const float* __restrict__ k_norm, double scale,
                                   int64_t rows, int S, bool causal, float* __restrict__ pred_scores,
                                   float* __restrict__ pred_probs, double* __restrict__ pred_probs_d) {
  const int64_t r = warp_row();
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int64_t h = r / S;
  const int i = static_cast<int>(r % S);
  const int n = causal ? i + 1 : S;
  const int32_t* row = acc + r * ld_acc;
  const double den = static_cast<double>(scales[2 * h]) * static_cast<double>(scales[2 * h + 1]);
  const bool norms = q_norm != nullptr;
  const double nq = norms ? static_cast<double>(q_norm[r]) : 1.0;
  const float* nk = norms ? k_norm + h * S : nullptr;
  auto s_at = [&](int j) {
    double x = static_cast<double>(row[j]) / den;
    if (norms) x *= nq * static_cast<double>(nk[j]);
    return x * scale;
  };
  double m = -INFINITY;
  for (int j = lane; j < n; j += kWarp) m = fmax(m, s_at(j));
  m = warp_max(m);
  double z = 0.0;
  for (int j = lane; j < n; j += kWarp) z += exp(s_at(j) - m);
  z = warp_sum(z);
  float* srow = pred_scores + r * S;
  float* prow = pred_probs + r * S;
  double* drow = pred_probs_d + r * S;
  for (int j = lane; j < S; j += kWarp) {
    const double x = s_at(j);
    const double p = j < n ? exp(x - m) / z : 0.0;
    srow[j] = static_cast<float>(x);
    prow[j] = static_cast<float>(p);
    drow[j] = p;
  }
}

// ---- row_max = predictor ---------------------------------------------------
// The exact attention's softmax over each CSR row, subtracting m = the row's
// largest predicted score (pred_scores, float) among its kept entries, rounded
// to the data format when it is fixed point (add half an LSB, saturate,
// floor: config/number_format.h); exp(s - m) may exceed 1: with a fixed-point
// prob_format it saturates at the format's largest value `exp_cap` (+inf:
// none), as the simulator's exp unit output does. Everything else stays the
// exact fp32 path (scores, exps and sums are not rounded to the formats).
struct RowMaxRound {
  bool fixed = false;
  double scale = 1, inv_scale = 1, lo = 0, hi = 0;  // 2^F, 2^-F, code range
};

__global__ void csr_softmax_pred_max_kernel(const int* __restrict__ rowptr, const int* __restrict__ local_cols,
                                            const float* __restrict__ pred_scores, int S,
                                            const float* __restrict__ scores, RowMaxRound rnd, float exp_cap,
                                            float* __restrict__ probs, int64_t rows) {
  const int64_t r = warp_row();
  if (r >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const int b = rowptr[r], e = rowptr[r + 1];
  if (b >= e) return;
  const float* prow = pred_scores + r * S;
  float m = -INFINITY;
  for (int k = b + lane; k < e; k += kWarp) m = fmaxf(m, prow[local_cols[k]]);
  m = warp_max(m);
  if (rnd.fixed) {
    const double y = fmin(rnd.hi, fmax(rnd.lo, static_cast<double>(m) * rnd.scale + 0.5));
    m = static_cast<float>(floor(y) * rnd.inv_scale);
  }
  float z = 0.f;
  for (int k = b + lane; k < e; k += kWarp) z += fminf(expf(scores[k] - m), exp_cap);
  z = warp_sum(z);
  for (int k = b + lane; k < e; k += kWarp) probs[k] = fminf(expf(scores[k] - m), exp_cap) / z;
}

// Used only if cuBLAS refuses the int8 GEMM (recorded in meta.json).
__global__ void int8_gemm_fallback_kernel(const int8_t* __restrict__ q, const int8_t* __restrict__ k, int64_t H, int S,
                                          int Dp, int Sp, int32_t* __restrict__ acc) {
  const int64_t total = H * S * S;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t hi = t / S;  // h * S + i
    const int j = static_cast<int>(t % S);
    const int64_t h = hi / S;
    const int8_t* qr = q + hi * Dp;
    const int8_t* kr = k + (h * S + j) * Dp;
    int32_t s = 0;
    for (int d = 0; d < Dp; ++d) s += static_cast<int32_t>(qr[d]) * kr[d];
    acc[hi * Sp + j] = s;
  }
}

unsigned grid_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

// ---- the pipeline ----------------------------------------------------------------

AlgorithmResult run_sanger(const DumpInput& in, GpuContext& ctx, const RunOptions& opt) {
  const SangerParams P = sanger_params(in);
  const int64_t H = in.heads();
  const int S = in.seq_len, D = in.head_dim;
  const int Dp = (D + 3) / 4 * 4;  // int8 GEMM: lda/ldb multiples of 4
  const int Sp = (S + 3) / 4 * 4;  // ... and ldc
  const int64_t HS = H * S;
  const size_t sd = static_cast<size_t>(S) * D, ss = static_cast<size_t>(S) * S;
  const double qmax = std::ldexp(1.0, P.bits - 1) - 1;
  cudaStream_t st = ctx.stream;

  DeviceBuffer<float> q, k, v;
  q.upload(in.q.data(), in.q.size(), st);
  k.upload(in.k.data(), in.k.size(), st);
  v.upload(in.v.data(), in.v.size(), st);
  DeviceBuffer<double> qs(H), ks(H);
  DeviceBuffer<float> scales_out(2 * H), rescale(H);
  // The float32 recipe: normalised Q / K and their row norms (normalize_qk),
  // per-head absmax, the double probabilities the mask is decided on.
  DeviceBuffer<float> q_hat(P.normalize ? HS * D : 0), k_hat(P.normalize ? HS * D : 0);
  DeviceBuffer<float> q_norm(P.normalize ? HS : 0), k_norm(P.normalize ? HS : 0);
  DeviceBuffer<float> absmax(P.f32_recipe ? 2 * H : 0);
  DeviceBuffer<double> pred_probs_d(P.f32_recipe ? H * ss : 0);
  DeviceBuffer<int8_t> qq(HS * Dp), kq(HS * Dp);
  DeviceBuffer<int32_t> acc(H * S * static_cast<size_t>(Sp));
  DeviceBuffer<float> pred_scores(H * ss), pred_probs(H * ss);
  DeviceBuffer<int> counts(HS + 1), argmax(HS), rowptr(HS + 1), indptr(H * (S + 1));
  DeviceBuffer<int64_t> offsets(H + 1);
  DeviceBuffer<char> scan_tmp(exclusive_scan_temp_bytes(HS + 1));
  DeviceBuffer<int> cols_local, cols_global;  // [nnz], grown on the first run
  DeviceBuffer<float> scores, probs;           // [nnz]
  DeviceBuffer<float> out(H * sd);
  SparseAttention attention(ctx);

  // The float32 recipe keeps P > float(threshold), compared in double (Sanger's code compares with a float32 threshold).
  const double threshold = P.f32_recipe ? static_cast<double>(static_cast<float>(P.threshold)) : P.threshold;
  const ThresholdRule rule{threshold, P.keep_row_max, in.causal};
  const float* q_src = P.normalize ? q_hat.get() : q.get();  // what is quantised
  const float* k_src = P.normalize ? k_hat.get() : k.get();
  RowMaxRound row_round;
  if (P.data.fixed) {
    row_round.fixed = true;
    row_round.scale = std::ldexp(1.0, P.data.frac);
    row_round.inv_scale = std::ldexp(1.0, -P.data.frac);
    row_round.lo = -std::ldexp(1.0, P.data.width - 1);
    row_round.hi = std::ldexp(1.0, P.data.width - 1) - 1;
  }
  const float exp_cap = P.prob.fixed ? static_cast<float>((std::ldexp(1.0, P.prob.width - 1) - 1) *
                                                          std::ldexp(1.0, -P.prob.frac))
                                     : INFINITY;
  const float alpha_sddmm = static_cast<float>(in.scale);
  const int32_t ione = 1, izero = 0;
  bool decided = false, int8_cublas = true;
  std::string int8_refusal;
  int nnz = 0;

  StepTimer timer(st);
  // Poison every output buffer (NaN / -1 / 127) before each run, untimed, so
  // that an element no step writes fails the checks.
  auto poison = [&] {
    pred_scores.fill_bytes(0xff, pred_scores.size(), st);
    pred_probs.fill_bytes(0xff, pred_probs.size(), st);
    if (pred_probs_d.size()) pred_probs_d.fill_bytes(0xff, pred_probs_d.size(), st);
    qq.fill_bytes(0x7f, qq.size(), st);
    kq.fill_bytes(0x7f, kq.size(), st);
    indptr.fill_bytes(0xff, indptr.size(), st);
    offsets.fill_bytes(0xff, offsets.size(), st);
    if (cols_local.size()) cols_local.fill_bytes(0xff, cols_local.size(), st);
    if (probs.size()) probs.fill_bytes(0xff, probs.size(), st);
    out.fill_bytes(0xff, out.size(), st);
  };
  timed_runs(timer, opt.warmup, opt.repeats, poison, [&] {
    timer.start("quantise");
    if (P.f32_recipe) {
      if (P.normalize) {
        const unsigned blocks = static_cast<unsigned>((HS + 127) / 128);
        l2_normalise_kernel<<<blocks, 128, 0, st>>>(q.get(), HS, D, q_hat.get(), q_norm.get());
        CHECK_LAUNCH(l2_normalise_kernel);
        l2_normalise_kernel<<<blocks, 128, 0, st>>>(k.get(), HS, D, k_hat.get(), k_norm.get());
        CHECK_LAUNCH(l2_normalise_kernel);
      }
      absmax_kernel<<<static_cast<unsigned>(H), kReduceThreads, 0, st>>>(q_src, k_src, static_cast<int64_t>(sd),
                                                                         absmax.get());
      CHECK_LAUNCH(absmax_kernel);
      f32_scales_kernel<<<static_cast<unsigned>((H + 127) / 128), 128, 0, st>>>(
          absmax.get(), H, in.groups, P.layer_scope, static_cast<float>(qmax), scales_out.get());
      CHECK_LAUNCH(f32_scales_kernel);
      const int iqmax = static_cast<int>(qmax);
      quantize_f32_kernel<<<grid_for(HS * Dp, 256), 256, 0, st>>>(q_src, scales_out.get(), 0, H, S, D, Dp, iqmax,
                                                                   qq.get());
      CHECK_LAUNCH(quantize_f32_kernel);
      quantize_f32_kernel<<<grid_for(HS * Dp, 256), 256, 0, st>>>(k_src, scales_out.get(), 1, H, S, D, Dp, iqmax,
                                                                   kq.get());
      CHECK_LAUNCH(quantize_f32_kernel);
    } else {
      absmax_scales_kernel<<<static_cast<unsigned>(H), kReduceThreads, 0, st>>>(
          q.get(), k.get(), static_cast<int64_t>(sd), qmax, in.scale, qs.get(), ks.get(), scales_out.get(),
          rescale.get());
      CHECK_LAUNCH(absmax_scales_kernel);
      quantize_kernel<<<grid_for(HS * Dp, 256), 256, 0, st>>>(q.get(), qs.get(), H, S, D, Dp, qmax, qq.get());
      CHECK_LAUNCH(quantize_kernel);
      quantize_kernel<<<grid_for(HS * Dp, 256), 256, 0, st>>>(k.get(), ks.get(), H, S, D, Dp, qmax, kq.get());
      CHECK_LAUNCH(quantize_kernel);
    }
    timer.stop();

    timer.start("int8_gemm");
    // Row-major acc = Qq Kq^T ([S, S], ld Sp) is column-major acc^T = Kq Qq^T:
    // op(A) = Kq (A = kq as Dp x S, transposed), B = qq as Dp x S ("TN", the int8 layout).
    if (int8_cublas) {
      const cublasStatus_t s = cublasGemmStridedBatchedEx(
          ctx.cublas, CUBLAS_OP_T, CUBLAS_OP_N, S, S, Dp, &ione, kq.get(), CUDA_R_8I, Dp,
          static_cast<long long>(S) * Dp, qq.get(), CUDA_R_8I, Dp, static_cast<long long>(S) * Dp, &izero, acc.get(),
          CUDA_R_32I, Sp, static_cast<long long>(S) * Sp, static_cast<int>(H), CUBLAS_COMPUTE_32I,
          CUBLAS_GEMM_DEFAULT);
      if ((s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_INVALID_VALUE) && !decided) {
        int8_cublas = false;  // decided once, on the first run; recorded in meta.json
        int8_refusal = cublasGetStatusName(s);
      } else {
        CHECK_CUBLAS(s);
      }
    }
    if (!int8_cublas) {
      int8_gemm_fallback_kernel<<<grid_for(H * S * S, 256), 256, 0, st>>>(qq.get(), kq.get(), H, S, Dp, Sp,
                                                                          acc.get());
      CHECK_LAUNCH(int8_gemm_fallback_kernel);
    }
    timer.stop();

    timer.start("softmax");
    if (P.f32_recipe) {
      predict_f64_kernel<<<row_blocks(HS), kRowsPerBlock * kWarp, 0, st>>>(
          acc.get(), Sp, scales_out.get(), P.normalize ? q_norm.get() : nullptr, P.normalize ? k_norm.get() : nullptr,
          in.scale, HS, S, in.causal, pred_scores.get(), pred_probs.get(), pred_probs_d.get());
      CHECK_LAUNCH(predict_f64_kernel);
    } else {
      launch_row_softmax<int32_t>(acc.get(), Sp, rescale.get(), pred_scores.get(), pred_probs.get(), H, S, in.causal,
                                  st);
    }
    timer.stop();

    timer.start("threshold_csr");
    if (P.f32_recipe)
      launch_threshold_count(pred_probs_d.get(), H, S, rule, counts.get(), argmax.get(), st);
    else
      launch_threshold_count(pred_probs.get(), H, S, rule, counts.get(), argmax.get(), st);
    exclusive_scan(scan_tmp.get(), scan_tmp.bytes(), counts.get(), rowptr.get(), HS + 1, st);
    CHECK_CUDA(cudaMemcpyAsync(&nnz, rowptr.get() + HS, sizeof(int), cudaMemcpyDeviceToHost, st));
    ctx.sync();  // the host needs nnz for the buffers and the cuSPARSE descriptors
    cols_local.ensure(nnz);
    cols_global.ensure(nnz);
    scores.ensure(nnz);
    probs.ensure(nnz);
    if (P.f32_recipe)
      launch_threshold_fill(pred_probs_d.get(), rowptr.get(), argmax.get(), H, S, rule, cols_local.get(),
                            cols_global.get(), st);
    else
      launch_threshold_fill(pred_probs.get(), rowptr.get(), argmax.get(), H, S, rule, cols_local.get(),
                            cols_global.get(), st);
    launch_head_indptr(rowptr.get(), H, S, indptr.get(), offsets.get(), st);
    timer.stop();

    timer.start("sddmm");
    attention.sddmm(rowptr.get(), cols_global.get(), HS, D, nnz, q.get(), k.get(), alpha_sddmm, scores.get());
    timer.stop();

    timer.start("csr_softmax");
    if (nnz > 0 && P.row_max_predictor) {
      csr_softmax_pred_max_kernel<<<row_blocks(HS), kRowsPerBlock * kWarp, 0, st>>>(
          rowptr.get(), cols_local.get(), pred_scores.get(), S, scores.get(), row_round, exp_cap, probs.get(), HS);
      CHECK_LAUNCH(csr_softmax_pred_max_kernel);
    } else if (nnz > 0) {
      launch_csr_softmax(rowptr.get(), scores.get(), probs.get(), HS, st);
    }
    timer.stop();

    timer.start("spmm");  // rows with an empty mask stay 0
    attention.spmm(rowptr.get(), cols_global.get(), HS, D, nnz, probs.get(), v.get(), out.get());
    timer.stop();
    decided = true;
  });

  // ---- results of the last run ----
  AlgorithmResult res;
  const int64_t L = in.layers, G = in.groups;
  NpyArray a_qq = make_array(DType::i8, {L, G, S, D}), a_kq = make_array(DType::i8, {L, G, S, D});
  CHECK_CUDA(cudaMemcpy2DAsync(a_qq.as<int8_t>(), D, qq.get(), Dp, D, HS, cudaMemcpyDeviceToHost, st));
  CHECK_CUDA(cudaMemcpy2DAsync(a_kq.as<int8_t>(), D, kq.get(), Dp, D, HS, cudaMemcpyDeviceToHost, st));
  NpyArray a_scales = make_array(DType::f32, {L, G, 2});
  scales_out.download(a_scales.as<float>(), a_scales.count(), st);
  auto csr = download_csr_results(L, G, S, D, nnz, indptr, cols_local, offsets, scores, probs, out, st);
  NpyArray a_ps, a_pp;
  if (opt.full) {
    a_ps = make_array(DType::f32, {L, G, S, S});
    a_pp = make_array(DType::f32, {L, G, S, S});
    pred_scores.download(a_ps.as<float>(), a_ps.count(), st);
    pred_probs.download(a_pp.as<float>(), a_pp.count(), st);
  }
  ctx.sync();

  res.tensors.emplace_back("q_quant", std::move(a_qq));
  res.tensors.emplace_back("k_quant", std::move(a_kq));
  res.tensors.emplace_back("quant_scales", std::move(a_scales));
  if (opt.full) {
    res.tensors.emplace_back("pred_scores", std::move(a_ps));
    res.tensors.emplace_back("pred_probs", std::move(a_pp));
  }
  for (auto& t : csr) res.tensors.push_back(std::move(t));
  res.timings = timer.summary();
  res.nnz = nnz;
  res.notes.emplace_back("int8_gemm", int8_cublas ? "cublasGemmStridedBatchedEx CUDA_R_8I x CUDA_R_8I -> CUDA_R_32I, "
                                                    "CUBLAS_COMPUTE_32I"
                                                  : "own kernel (cuBLAS returned " + int8_refusal + ")");
  if (Dp != D || Sp != S)
    res.notes.emplace_back("int8_padding", "head_dim padded to " + std::to_string(Dp) + ", ldc to " +
                                               std::to_string(Sp) + " (zeros; results unchanged)");
  res.notes.emplace_back("sddmm", attention.sddmm_note());
  res.notes.emplace_back("spmm", SparseAttention::spmm_note());
  if (P.f32_recipe) {
    res.notes.emplace_back(
        "quantise", std::string("float32 recipe (params normalize_qk / quant_scope present): ") +
                        (P.normalize ? "normalize_qk = inner_product: rows divided by their float32 L2 norms (8-lane "
                                       "sums, __fmul_rn/__fadd_rn/__fsqrt_rn/__fdiv_rn); "
                                     : "no normalisation; ") +
                        "absmax per " + (P.layer_scope ? "layer (all groups of a layer)" : "head") +
                        "; s = float(float(1/absmax) * qmax); codes = clamp(rint(float(x * s)))");
    res.notes.emplace_back("softmax", std::string("prediction in double: acc / (s_q * s_k)") +
                                          (P.normalize ? " * (|q_i| * |k_j|)" : "") +
                                          " * scale, double row softmax (warp-parallel sums)");
    res.notes.emplace_back("threshold", "pred_prob (double) > double(float(threshold)), as the simulator");
  } else {
    res.notes.emplace_back("threshold", "pred_prob > threshold compared in double, as the simulator");
  }
  if (P.row_max_predictor) {
    std::string note = "row_max = predictor: the CSR softmax subtracts each row's largest predicted score among its "
                       "kept entries";
    note += P.data.fixed ? " rounded to number_format (half up, saturated)" : "";
    note += P.prob.fixed ? "; exp(s - m) saturated at prob_format's largest value " + std::to_string(exp_cap)
                         : "; no saturation (fp32 prob_format)";
    note += "; otherwise the exact fp32 path";
    res.notes.emplace_back("row_max", note);
  }
  return res;
}

const Algorithm kSanger{"sanger", &validate_sanger, &run_sanger};

}  // namespace

const Algorithm& sanger_algorithm() { return kSanger; }

}  // namespace gpu_ref
