#include "algorithms/dense.h"

#include "common/softmax.cuh"

namespace gpu_ref {

namespace {

void validate_dense(const DumpInput&) {}

AlgorithmResult run_dense(const DumpInput& in, GpuContext& ctx, const RunOptions& opt) {
  const int64_t H = in.heads();
  const int S = in.seq_len, D = in.head_dim;
  const size_t sd = static_cast<size_t>(S) * D, ss = static_cast<size_t>(S) * S;
  cudaStream_t st = ctx.stream;

  DeviceBuffer<float> q, k, v, scores(H * ss), probs(H * ss), out(H * sd);
  q.upload(in.q.data(), in.q.size(), st);
  k.upload(in.k.data(), in.k.size(), st);
  v.upload(in.v.data(), in.v.size(), st);

  const float alpha_qk = static_cast<float>(in.scale), one = 1.f, zero = 0.f;
  StepTimer timer(st);
  auto poison = [&] { out.fill_bytes(0xff, H * sd, st); };  // NaN where nothing writes
  timed_runs(timer, opt.warmup, opt.repeats, poison, [&] {
    timer.start("qk_gemm");
    // Row-major S = Q K^T is column-major S^T = K Q^T: op(A) = K (A = k as D x S, transposed), B = q as D x S.
    CHECK_CUBLAS(cublasSgemmStridedBatched(ctx.cublas, CUBLAS_OP_T, CUBLAS_OP_N, S, S, D, &alpha_qk, k.get(), D,
                                           static_cast<long long>(sd), q.get(), D, static_cast<long long>(sd), &zero,
                                           scores.get(), S, static_cast<long long>(ss), static_cast<int>(H)));
    timer.stop();
    timer.start("softmax");
    launch_row_softmax<float>(scores.get(), S, nullptr, nullptr, probs.get(), H, S, in.causal, st);
    timer.stop();
    timer.start("pv_gemm");
    // Row-major O = P V is column-major O^T = V^T P^T: A = v as D x S, B = probs as S x S (ld S).
    CHECK_CUBLAS(cublasSgemmStridedBatched(ctx.cublas, CUBLAS_OP_N, CUBLAS_OP_N, D, S, S, &one, v.get(), D,
                                           static_cast<long long>(sd), probs.get(), S, static_cast<long long>(ss),
                                           &zero, out.get(), D, static_cast<long long>(sd), static_cast<int>(H)));
    timer.stop();
  });

  AlgorithmResult res;
  NpyArray o = make_array(DType::f32, {in.layers, in.groups, S, D});
  out.download(o.as<float>(), o.count(), st);
  ctx.sync();
  res.tensors.emplace_back("output", std::move(o));
  res.timings = timer.summary();
  res.notes.emplace_back("qk_gemm", "cublasSgemmStridedBatched (fp32, CUBLAS_DEFAULT_MATH: no TF32), alpha = scale");
  res.notes.emplace_back("pv_gemm", "cublasSgemmStridedBatched (fp32)");
  return res;
}

const Algorithm kDense{"dense", &validate_dense, &run_dense};

}  // namespace

const Algorithm& dense_algorithm() { return kDense; }

}  // namespace gpu_ref
