#pragma once
// ELSA's candidate selection (Ham et al., ISCA 2021; docs/elsa.md): sign
// random projections of Q and K give k-bit hashes, the Hamming distance of
// two hashes estimates their angle, cos(angle) * ||k_j|| estimates a score
// up to the query's norm, and a key is kept when its estimated probability
// ratio to the row's best key is at least `threshold`. Kernel-free; the
// SystemC unit times it.
//
// The exact rule below is the contract with gpu_ref/src/algorithms/elsa.cu
// and gpu_ref/tests/check_against_numpy.py: every step is defined operation
// by operation (double sums in index order, no fused multiply-add), so that
// the three give bit-identical hashes, norms and masks.
#include <cstdint>
#include <vector>

#include "kernels/tensor.h"

namespace attnsim {

struct ElsaParams {
  int hash_bits = 64;        // k, 1..256 (ELSA: 64)
  double threshold = 1e-3;   // smallest estimated probability ratio a kept key may have, (0, 1]
  uint64_t seed = 1;         // of the projection matrix
};

// One splitmix64 step: state += 0x9e3779b97f4a7c15, then the output mix.
uint64_t elsa_splitmix64(uint64_t& state);

// k x d projection, row-major, entries standard normal: splitmix64 seeded
// with `seed`; per entry two successive outputs x1, x2 -> u = ((x >> 11) + 1)
// * 2^-53 in (0, 1], z = sqrt(-2 ln u1) * cos((2 pi) * u2) in double, cast
// to float. Throws std::invalid_argument unless 1 <= hash_bits <= 256 and
// head_dim >= 1.
MatF elsa_projection(int hash_bits, int head_dim, uint64_t seed);

// c[h] = llround(cos((pi * h) / k) * 32768), h = 0..k.
std::vector<int32_t> elsa_cos_table(int hash_bits);

// log(1 / threshold) in double: the keep rule's bound (threshold in (0, 1];
// throws std::invalid_argument otherwise).
double elsa_log_inv_p(double threshold);

// Per row: the hash (words_per_row = ceil(k / 64) words; bit t of row r is
// bit t % 64 of words[r * words_per_row + t / 64]; bit t = 1 iff
// sum_j double(A[t][j]) * double(x[j]) >= 0, summed in j order from 0.0,
// each product rounded before its addition) and the norm
// sqrt(sum_j double(x[j])^2), likewise.
struct ElsaHashes {
  int words_per_row = 1;
  std::vector<uint64_t> words;
  std::vector<double> norms;  // one entry per row
  int hash_bits = 0;          // k (0: unknown; elsa_hash sets it)
  int rows() const { return static_cast<int>(norms.size()); }
  const uint64_t* row(int r) const { return words.data() + static_cast<size_t>(r) * words_per_row; }
};
// rows: n x d; projection: k x d (throws std::invalid_argument when the
// widths differ or k is not 1..256).
ElsaHashes elsa_hash(const MatF& rows, const MatF& projection);

// Hamming distance of rows a and b of two hash sets of the same width.
int elsa_hamming(const ElsaHashes& a, int ra, const ElsaHashes& b, int rb);

// Rows row0 .. row0+rows-1 of the query hashes against all keys; returns the
// tile's mask (rows x keys CSR, columns ascending). For query i = row0 + r:
// allowed keys j < keys (causal: also j <= i); e_ij = double(c[H_ij]) *
// norm(k_j) with H_ij the Hamming distance; m_i = max over allowed j; key j
// kept iff ((m_i - e_ij) * norm(q_i)) * scale / 32768 <= log_inv_p (each
// operation rounded to double, left to right). The row maximum is always
// kept (log_inv_p >= 0). cos_table holds k + 1 entries.
CsrMask elsa_select(const ElsaHashes& queries, int row0, int rows, const ElsaHashes& keys,
                    const std::vector<int32_t>& cos_table, double log_inv_p, double scale, bool causal);

}  // namespace attnsim
