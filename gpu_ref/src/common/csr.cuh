#pragma once
// Building a per-head CSR mask on the GPU from dense probability rows
// (count kernel + CUB exclusive scan + fill kernel), and its per-head views.
//
// Layout: `heads` heads of S rows each, concatenated (row r = head r / S,
// query r % S). The global CSR (rowptr over all heads * S rows) is the
// block-diagonal matrix of all heads: entry k of row r has the local column
// cols[k] (0..S-1, what the dump stores) and the global column
// (r / S) * S + cols[k] (what cuSPARSE multiplies with, so that one SDDMM and
// one SpMM cover every head). Columns are sorted within a row.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace gpu_ref {

struct ThresholdRule {
  double threshold = 0;     // keep j where prob > threshold (compared in double)
  bool keep_row_max = true; // a row keeping nothing keeps its argmax (first index on ties)
  bool causal = false;      // keys j > i are never kept
};

// counts[r] = kept entries of row r (rows = heads * S), argmax[r] = the row's
// first maximum; counts must hold rows + 1 ints (counts[rows] is set to 0).
// The probabilities are float or double (Sanger's float32 recipe keeps on
// double probabilities); either way compared with the threshold in double.
void launch_threshold_count(const float* probs, int64_t heads, int S, const ThresholdRule& rule, int* counts,
                            int* argmax, cudaStream_t stream);
void launch_threshold_count(const double* probs, int64_t heads, int S, const ThresholdRule& rule, int* counts,
                            int* argmax, cudaStream_t stream);

// CUB exclusive sum of n ints (temp_bytes(n) of scratch).
size_t exclusive_scan_temp_bytes(int64_t n);
void exclusive_scan(void* temp, size_t temp_bytes, const int* in, int* out, int64_t n, cudaStream_t stream);

// Writes the kept columns of every row at rowptr[r]: local_cols (0..S-1) and
// global_cols (head * S + j).
void launch_threshold_fill(const float* probs, const int* rowptr, const int* argmax, int64_t heads, int S,
                           const ThresholdRule& rule, int* local_cols, int* global_cols, cudaStream_t stream);
void launch_threshold_fill(const double* probs, const int* rowptr, const int* argmax, int64_t heads, int S,
                           const ThresholdRule& rule, int* local_cols, int* global_cols, cudaStream_t stream);

// Per-head views of the global rowptr: indptr [heads, S + 1] starting at 0 per
// head, offsets [heads + 1] (where each head's entries start).
void launch_head_indptr(const int* rowptr, int64_t heads, int S, int* indptr, int64_t* offsets, cudaStream_t stream);

}  // namespace gpu_ref
