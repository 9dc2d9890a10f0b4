#include <algorithm>

#include "kernels/tensor.h"

namespace attnsim {

CsrMask CsrMask::full(int rows, int cols, bool causal, int row_offset) {
  CsrMask m;
  m.cols = cols;
  std::vector<int32_t> r;
  for (int i = 0; i < rows; ++i) {
    const int n = causal ? std::min(cols, row_offset + i + 1) : cols;
    r.resize(std::max(0, n));
    for (int j = 0; j < n; ++j) r[j] = j;
    m.add_row(r);
  }
  return m;
}

int32_t CsrMask::block_end(int r, int32_t t, int block) const {
  const int32_t end = indptr[r + 1], limit = (indices[t] / block + 1) * block;
  // Rows are often runs of consecutive columns: try the block's last
  // possible entry before searching.
  const int32_t guess = t + std::min(end - t, block) - 1;
  if (indices[guess] < limit) return guess + 1;
  return static_cast<int32_t>(std::lower_bound(indices.begin() + t, indices.begin() + guess, limit) - indices.begin());
}

void CsrMask::count_blocks(int row_begin, int row_end, int block, std::vector<int64_t>& counts) const {
  for (int r = row_begin; r < row_end; ++r)
    for (int32_t t = indptr[r], next; t < indptr[r + 1]; t = next) {
      next = block_end(r, t, block);
      counts[indices[t] / block] += next - t;
    }
}

}  // namespace attnsim
