#pragma once
// The interface of one algorithm piece. Each algorithm (dense, sanger, ...) is
// a self-contained .cu/.h pair that exposes one `Algorithm` and is listed in
// registry.cpp; main() picks it by meta.json's "algorithm".
#include <string>
#include <utility>
#include <vector>

#include "common/device.h"
#include "common/dump.h"
#include "common/npy.h"
#include "common/timing.h"

namespace gpu_ref {

struct RunOptions {
  int repeats = 10;
  int warmup = 3;
  bool full = false;  // also write the dense intermediates ([L, G, S, S])
};

struct AlgorithmResult {
  std::vector<std::pair<std::string, NpyArray>> tensors;  // file stem -> array, in write order
  std::vector<std::pair<std::string, std::string>> texts;  // other files: name -> content (e.g. heads.json)
  std::vector<StepSummary> timings;
  std::vector<std::pair<std::string, std::string>> notes;  // extra "key": "value" for meta.json
  long long nnz = -1;                                       // kept mask entries, when the algorithm has a mask
};

struct Algorithm {
  const char* name;
  // Algorithm-specific checks of meta.json (params); throws InputError.
  // Runs before the GPU is touched.
  void (*validate)(const DumpInput& in);
  // Computes everything on the GPU (warmup + repeats timed runs) and returns
  // the last run's tensors.
  AlgorithmResult (*run)(const DumpInput& in, GpuContext& ctx, const RunOptions& opt);
};

const Algorithm* find_algorithm(const std::string& name);
std::string known_algorithms();  // "dense, sanger"

// Helpers for the pieces.
NpyArray make_array(DType t, std::vector<int64_t> shape);

// The block-diagonal CSR of all heads uses 32-bit row pointers and columns:
// an InputError naming meta.json when layers * groups * seq_len^2 does not fit.
void require_int32_csr(const DumpInput& in);

// The masked-attention results of a sparse piece (docs/dump_format.md), in
// write order: mask_indptr [L, G, S+1], mask_indices [nnz], mask_offsets
// [L*G+1], scores and probs [nnz], output [L, G, S, D]. The copies are queued
// on `st`: the arrays hold the values once the context has synced.
std::vector<std::pair<std::string, NpyArray>> download_csr_results(int64_t L, int64_t G, int64_t S, int64_t D,
                                                                   int64_t nnz, const DeviceBuffer<int>& indptr,
                                                                   const DeviceBuffer<int>& cols,
                                                                   const DeviceBuffer<int64_t>& offsets,
                                                                   const DeviceBuffer<float>& scores,
                                                                   const DeviceBuffer<float>& probs,
                                                                   const DeviceBuffer<float>& out, cudaStream_t st);

}  // namespace gpu_ref
