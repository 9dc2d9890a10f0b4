#include "algorithms/algorithm.h"

#include "algorithms/dense.h"
#include "algorithms/elsa.h"
#include "algorithms/sanger.h"
#include "algorithms/spatten.h"
#include "algorithms/pattern_detector.h"
#include "common/error.h"

namespace gpu_ref {

namespace {
// One line per algorithm piece.
const Algorithm* const kAlgorithms[] = {
    &dense_algorithm(),
    &sanger_algorithm(),
    &spatten_algorithm(),
    &pattern_detector_algorithm(),
    &elsa_algorithm(),
};
}  // namespace

const Algorithm* find_algorithm(const std::string& name) {
  for (const Algorithm* a : kAlgorithms)
    if (name == a->name) return a;
  return nullptr;
}

std::string known_algorithms() {
  std::string s;
  for (const Algorithm* a : kAlgorithms) s += (s.empty() ? "" : ", ") + std::string(a->name);
  return s;
}

NpyArray make_array(DType t, std::vector<int64_t> shape) {
  NpyArray a;
  a.dtype = t;
  a.shape = std::move(shape);
  a.bytes.resize(a.count() * dtype_size(t));
  return a;
}

void require_int32_csr(const DumpInput& in) {
  const double rows = static_cast<double>(in.heads()) * in.seq_len;
  if (rows * in.seq_len >= 2147483647.0)
    throw InputError(in.meta_path(), "layers * groups * seq_len^2 = " + std::to_string(rows * in.seq_len) +
                                         " is too large for the 32-bit CSR indices of gpu_ref");
}

std::vector<std::pair<std::string, NpyArray>> download_csr_results(int64_t L, int64_t G, int64_t S, int64_t D,
                                                                   int64_t nnz, const DeviceBuffer<int>& indptr,
                                                                   const DeviceBuffer<int>& cols,
                                                                   const DeviceBuffer<int64_t>& offsets,
                                                                   const DeviceBuffer<float>& scores,
                                                                   const DeviceBuffer<float>& probs,
                                                                   const DeviceBuffer<float>& out, cudaStream_t st) {
  NpyArray a_indptr = make_array(DType::i32, {L, G, S + 1});
  indptr.download(a_indptr.as<int>(), a_indptr.count(), st);
  NpyArray a_indices = make_array(DType::i32, {nnz});
  NpyArray a_scores = make_array(DType::f32, {nnz}), a_probs = make_array(DType::f32, {nnz});
  if (nnz > 0) {
    cols.download(a_indices.as<int>(), nnz, st);
    scores.download(a_scores.as<float>(), nnz, st);
    probs.download(a_probs.as<float>(), nnz, st);
  }
  NpyArray a_offsets = make_array(DType::i64, {L * G + 1});
  offsets.download(a_offsets.as<int64_t>(), a_offsets.count(), st);
  NpyArray a_out = make_array(DType::f32, {L, G, S, D});
  out.download(a_out.as<float>(), a_out.count(), st);
  std::vector<std::pair<std::string, NpyArray>> r;
  r.emplace_back("mask_indptr", std::move(a_indptr));
  r.emplace_back("mask_indices", std::move(a_indices));
  r.emplace_back("mask_offsets", std::move(a_offsets));
  r.emplace_back("scores", std::move(a_scores));
  r.emplace_back("probs", std::move(a_probs));
  r.emplace_back("output", std::move(a_out));
  return r;
}

}  // namespace gpu_ref
