#include "kernels/elsa.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace attnsim {

namespace {

constexpr double kPi = 3.14159265358979323846;

// a * b rounded to double on its own: a volatile store keeps the compiler
// from fusing it with a following addition or subtraction into an FMA (the
// contract with the GPU and numpy is one rounding per operation).
inline double mul_rn(double a, double b) {
  const volatile double p = a * b;
  return p;
}

void check_bits(int hash_bits) {
  if (hash_bits < 1 || hash_bits > 256)
    throw std::invalid_argument("elsa: hash_bits must be 1 to 256, got " + std::to_string(hash_bits));
}

double unit_interval(uint64_t x) { return static_cast<double>((x >> 11) + 1) * 0x1p-53; }

}  // namespace

uint64_t elsa_splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

MatF elsa_projection(int hash_bits, int head_dim, uint64_t seed) {
  check_bits(hash_bits);
  if (head_dim < 1) throw std::invalid_argument("elsa: head_dim must be positive");
  MatF a(hash_bits, head_dim);
  uint64_t state = seed;
  for (int t = 0; t < hash_bits; ++t)
    for (int j = 0; j < head_dim; ++j) {
      const double u1 = unit_interval(elsa_splitmix64(state));
      const double u2 = unit_interval(elsa_splitmix64(state));
      const double r = std::sqrt(-2.0 * std::log(u1));
      const double c = std::cos(2.0 * kPi * u2);
      a(t, j) = static_cast<float>(mul_rn(r, c));
    }
  return a;
}

std::vector<int32_t> elsa_cos_table(int hash_bits) {
  check_bits(hash_bits);
  std::vector<int32_t> c(hash_bits + 1);
  for (int h = 0; h <= hash_bits; ++h)
    c[h] = static_cast<int32_t>(std::llround(std::cos(kPi * h / hash_bits) * 32768.0));
  return c;
}

double elsa_log_inv_p(double threshold) {
  if (!(threshold > 0.0 && threshold <= 1.0))
    throw std::invalid_argument("elsa: threshold must be in (0, 1], got " + std::to_string(threshold));
  return std::log(1.0 / threshold);
}

ElsaHashes elsa_hash(const MatF& rows, const MatF& projection) {
  const int k = static_cast<int>(projection.rows());
  check_bits(k);
  const int d = static_cast<int>(rows.cols());
  if (projection.cols() != d)
    throw std::invalid_argument("elsa: projection has " + std::to_string(projection.cols()) +
                                " columns, the rows have " + std::to_string(d));
  const int n = static_cast<int>(rows.rows());
  ElsaHashes h;
  h.hash_bits = k;
  h.words_per_row = (k + 63) / 64;
  h.words.assign(static_cast<size_t>(n) * h.words_per_row, 0);
  h.norms.resize(n);
  for (int r = 0; r < n; ++r) {
    const float* x = rows.row(r).data();
    uint64_t* w = h.words.data() + static_cast<size_t>(r) * h.words_per_row;
    for (int t = 0; t < k; ++t) {
      const float* a = projection.row(t).data();
      double acc = 0.0;
      for (int j = 0; j < d; ++j) acc = acc + mul_rn(static_cast<double>(a[j]), static_cast<double>(x[j]));
      if (acc >= 0.0) w[t / 64] |= uint64_t{1} << (t % 64);
    }
    double sq = 0.0;
    for (int j = 0; j < d; ++j) sq = sq + mul_rn(static_cast<double>(x[j]), static_cast<double>(x[j]));
    h.norms[r] = std::sqrt(sq);
  }
  return h;
}

int elsa_hamming(const ElsaHashes& a, int ra, const ElsaHashes& b, int rb) {
  const uint64_t* x = a.row(ra);
  const uint64_t* y = b.row(rb);
  int dist = 0;
  for (int w = 0; w < a.words_per_row; ++w) dist += __builtin_popcountll(x[w] ^ y[w]);
  return dist;
}

CsrMask elsa_select(const ElsaHashes& queries, int row0, int rows, const ElsaHashes& keys,
                    const std::vector<int32_t>& cos_table, double log_inv_p, double scale, bool causal) {
  if (queries.words_per_row != keys.words_per_row)
    throw std::invalid_argument("elsa_select: query and key hashes differ in width");
  if (row0 < 0 || rows < 0 || row0 + rows > queries.rows())
    throw std::invalid_argument("elsa_select: rows " + std::to_string(row0) + " .. " + std::to_string(row0 + rows) +
                                " outside the " + std::to_string(queries.rows()) + " query hashes");
  const int bits = queries.hash_bits > 0 ? queries.hash_bits : 64 * queries.words_per_row;
  if (static_cast<int>(cos_table.size()) != bits + 1)
    throw std::invalid_argument("elsa_select: cos_table has " + std::to_string(cos_table.size()) +
                                " entries, expected hash_bits + 1 = " + std::to_string(bits + 1));
  if (!(log_inv_p >= 0.0)) throw std::invalid_argument("elsa_select: log_inv_p must be >= 0");
  const int n_keys = keys.rows();
  CsrMask mask;
  mask.cols = n_keys;
  std::vector<double> est(n_keys);
  std::vector<int32_t> cols;
  for (int r = 0; r < rows; ++r) {
    const int i = row0 + r;
    const int n = causal ? std::min(n_keys, i + 1) : n_keys;
    double m = -INFINITY;
    for (int j = 0; j < n; ++j) {
      const int h = elsa_hamming(queries, i, keys, j);
      if (h > bits) throw std::invalid_argument("elsa_select: a hash has bits beyond hash_bits");
      est[j] = mul_rn(static_cast<double>(cos_table[h]), keys.norms[j]);
      m = std::max(m, est[j]);
    }
    const double nq = queries.norms[i];
    cols.clear();
    for (int j = 0; j < n; ++j) {
      const double gap = m - est[j];
      const double bound = mul_rn(mul_rn(gap, nq), scale) / 32768.0;
      if (bound <= log_inv_p) cols.push_back(j);
    }
    mask.add_row(cols);
  }
  return mask;
}

}  // namespace attnsim
