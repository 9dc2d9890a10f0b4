#include "algorithms/sanger.h"

#include <cmath>
#include <cstdint>

#include <cub/block/block_reduce.cuh>

#include "common/csr.cuh"
#include "common/sparse_attention.cuh"
#include "common/softmax.cuh"

namespace gpu_ref {

namespace {

struct SangerParams {
  int bits = 4;
  double threshold = 2e-3;
  bool keep_row_max = true;
};

SangerParams sanger_params(const DumpInput& in) {
  SangerParams p;
  p.bits = in.param_int("bits");
  if (p.bits < 2 || p.bits > 8) in.fail_param("bits", "must be 2 to 8 (the prediction GEMM is int8)");
  p.threshold = in.param_number("threshold");
  p.keep_row_max = in.param_bool_or("keep_row_max", true);
  return p;
}

void validate_sanger(const DumpInput& in) {
  sanger_params(in);
  // The block-diagonal CSR of all heads uses 32-bit row pointers and columns.
  const double rows = static_cast<double>(in.heads()) * in.seq_len;
  if (rows * in.seq_len >= 2147483647.0)
    throw InputError(in.meta_path(), "layers * groups * seq_len^2 = " + std::to_string(rows * in.seq_len) +
                                         " is too large for the 32-bit CSR indices of gpu_ref");
}

// ---- quantise -------------------------------------------------------------

constexpr int kReduceThreads = 256;

struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// One block per head: absmax of the head's whole Q and K, then the scales
// (double, as the simulator: qmax / absmax, 1 for an all-zero tensor), the
// stored float scales [H, 2] and the prediction rescale
// float(scale / (s_q * s_k)).
__global__ void __launch_bounds__(kReduceThreads)
    absmax_scales_kernel(const float* __restrict__ q, const float* __restrict__ k, int64_t head_elems, double qmax,
                         double scale, double* __restrict__ qs, double* __restrict__ ks, float* __restrict__ scales_out,
                         float* __restrict__ rescale) {
  using Reduce = cub::BlockReduce<float, kReduceThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  const int64_t h = blockIdx.x;
  const float* qh = q + h * head_elems;
  const float* kh = k + h * head_elems;
  float mq = 0.f, mk = 0.f;
  for (int64_t i = threadIdx.x; i < head_elems; i += blockDim.x) {
    mq = fmaxf(mq, fabsf(qh[i]));
    mk = fmaxf(mk, fabsf(kh[i]));
  }
  mq = Reduce(tmp).Reduce(mq, MaxOp());
  __syncthreads();  // tmp is reused
  mk = Reduce(tmp).Reduce(mk, MaxOp());
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

  const ThresholdRule rule{P.threshold, P.keep_row_max, in.causal};
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
    absmax_scales_kernel<<<static_cast<unsigned>(H), kReduceThreads, 0, st>>>(
        q.get(), k.get(), static_cast<int64_t>(sd), qmax, in.scale, qs.get(), ks.get(), scales_out.get(),
        rescale.get());
    CHECK_LAUNCH(absmax_scales_kernel);
    quantize_kernel<<<grid_for(HS * Dp, 256), 256, 0, st>>>(q.get(), qs.get(), H, S, D, Dp, qmax, qq.get());
    CHECK_LAUNCH(quantize_kernel);
    quantize_kernel<<<grid_for(HS * Dp, 256), 256, 0, st>>>(k.get(), ks.get(), H, S, D, Dp, qmax, kq.get());
    CHECK_LAUNCH(quantize_kernel);
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
    launch_row_softmax<int32_t>(acc.get(), Sp, rescale.get(), pred_scores.get(), pred_probs.get(), H, S, in.causal,
                                st);
    timer.stop();

    timer.start("threshold_csr");
    launch_threshold_count(pred_probs.get(), H, S, rule, counts.get(), argmax.get(), st);
    exclusive_scan(scan_tmp.get(), scan_tmp.bytes(), counts.get(), rowptr.get(), HS + 1, st);
    CHECK_CUDA(cudaMemcpyAsync(&nnz, rowptr.get() + HS, sizeof(int), cudaMemcpyDeviceToHost, st));
    ctx.sync();  // the host needs nnz for the buffers and the cuSPARSE descriptors
    cols_local.ensure(nnz);
    cols_global.ensure(nnz);
    scores.ensure(nnz);
    probs.ensure(nnz);
    launch_threshold_fill(pred_probs.get(), rowptr.get(), argmax.get(), H, S, rule, cols_local.get(),
                          cols_global.get(), st);
    launch_head_indptr(rowptr.get(), H, S, indptr.get(), offsets.get(), st);
    timer.stop();

    timer.start("sddmm");
    attention.sddmm(rowptr.get(), cols_global.get(), HS, D, nnz, q.get(), k.get(), alpha_sddmm, scores.get());
    timer.stop();

    timer.start("csr_softmax");
    if (nnz > 0) launch_csr_softmax(rowptr.get(), scores.get(), probs.get(), HS, st);
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
  NpyArray a_indptr = make_array(DType::i32, {L, G, S + 1});
  indptr.download(a_indptr.as<int>(), a_indptr.count(), st);
  NpyArray a_indices = make_array(DType::i32, {nnz});
  NpyArray a_scores = make_array(DType::f32, {nnz}), a_probs = make_array(DType::f32, {nnz});
  if (nnz > 0) {
    cols_local.download(a_indices.as<int>(), nnz, st);
    scores.download(a_scores.as<float>(), nnz, st);
    probs.download(a_probs.as<float>(), nnz, st);
  }
  NpyArray a_offsets = make_array(DType::i64, {H + 1});
  offsets.download(a_offsets.as<int64_t>(), a_offsets.count(), st);
  NpyArray a_out = make_array(DType::f32, {L, G, S, D});
  out.download(a_out.as<float>(), a_out.count(), st);
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
  res.tensors.emplace_back("mask_indptr", std::move(a_indptr));
  res.tensors.emplace_back("mask_indices", std::move(a_indices));
  res.tensors.emplace_back("mask_offsets", std::move(a_offsets));
  res.tensors.emplace_back("scores", std::move(a_scores));
  res.tensors.emplace_back("probs", std::move(a_probs));
  res.tensors.emplace_back("output", std::move(a_out));
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
  res.notes.emplace_back("threshold", "pred_prob > threshold compared in double, as the simulator");
  return res;
}

const Algorithm kSanger{"sanger", &validate_sanger, &run_sanger};

}  // namespace

const Algorithm& sanger_algorithm() { return kSanger; }

}  // namespace gpu_ref
