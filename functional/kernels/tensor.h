#pragma once
// Dense row-major matrices (Eigen) and the CSR mask shared by all kernels.
#include <Eigen/Dense>
#include <cstdint>
#include <vector>

namespace attnsim {

using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatI8 = Eigen::Matrix<int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A row-major boolean mask in CSR form: column indices sorted within a row.
struct CsrMask {
  int rows = 0, cols = 0;
  std::vector<int32_t> indptr{0};
  std::vector<int32_t> indices;

  int64_t nnz() const { return static_cast<int64_t>(indices.size()); }
  int row_nnz(int r) const { return indptr[r + 1] - indptr[r]; }
  void add_row(const std::vector<int32_t>& cols_of_row) {
    indices.insert(indices.end(), cols_of_row.begin(), cols_of_row.end());
    indptr.push_back(static_cast<int32_t>(indices.size()));
    ++rows;
  }
  // Every column j <= row_offset + r (causal) or every column.
  static CsrMask full(int rows, int cols, bool causal, int row_offset);
  // Adds to counts[b] the kept entries of rows [row_begin, row_end) in column
  // block b (columns [b * block, (b + 1) * block)); counts has at least
  // ceil(cols / block) entries. Cost: a binary search per (row, touched
  // block), not one step per entry.
  void count_blocks(int row_begin, int row_end, int block, std::vector<int64_t>& counts) const;
  // For row r's entry at position t of indices: the position after the
  // row's last entry in the same column block (a binary search at most).
  int32_t block_end(int r, int32_t t, int block) const;
};

}  // namespace attnsim
