#include "kernels/attention_codes.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "kernels/quantize.h"

namespace attnsim {

namespace {

// Products of two codes bounded by max_a * max_b: how many of them an int32
// sum holds whatever the order (the vectorised loops reassociate).
int int32_terms(int max_a, int max_b) {
  const int64_t p = static_cast<int64_t>(max_a) * max_b;
  return p == 0 ? INT_MAX : static_cast<int>(std::min<int64_t>(INT_MAX, INT32_MAX / p));
}

// Σ a[k]·b[k] for k < n, n within int32_terms.
inline int32_t dot32(const int16_t* __restrict a, const int16_t* __restrict b, int n) {
  int32_t s = 0;
  for (int k = 0; k < n; ++k) s += static_cast<int32_t>(a[k]) * static_cast<int32_t>(b[k]);
  return s;
}

// The same in int64, in int32 pieces of at most `piece` terms.
inline int64_t dot64(const int16_t* a, const int16_t* b, int n, int piece) {
  if (n <= piece) return dot32(a, b, n);
  int64_t s = 0;
  for (int k = 0; k < n; k += piece) s += dot32(a + k, b + k, std::min(piece, n - k));
  return s;
}

// Four dot products sharing a, n within int32_terms, added to out[0..3].
inline void add_dot32x4(const int16_t* __restrict a, const int16_t* __restrict b0, const int16_t* __restrict b1,
                        const int16_t* __restrict b2, const int16_t* __restrict b3, int n, int64_t* __restrict out) {
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int k = 0; k < n; ++k) {
    const int32_t x = a[k];
    s0 += x * b0[k];
    s1 += x * b1[k];
    s2 += x * b2[k];
    s3 += x * b3[k];
  }
  out[0] += s0;
  out[1] += s1;
  out[2] += s2;
  out[3] += s3;
}

// acc[c] += e * v[c], c < n (the caller flushes acc before it can overflow).
inline void axpy32(int32_t* __restrict acc, int16_t e, const int16_t* __restrict v, int n) {
  for (int c = 0; c < n; ++c) acc[c] += static_cast<int32_t>(e) * static_cast<int32_t>(v[c]);
}

// The code of a value already on the format's grid (value * 2^frac is an integer).
int16_t to_code(double value, double unit) { return static_cast<int16_t>(value * unit); }

// The exp unit's rounded output for every score difference: the scores are
// codes of the data format, so e = round_prob(exp(s - m)) depends only on the
// code difference m - s (0 .. 2^width - 1). Tabulated once per numerics.
std::shared_ptr<const std::vector<int16_t>> exp_table(const AttentionNumerics& num) {
  static std::mutex lock;
  static std::map<std::string, std::shared_ptr<const std::vector<int16_t>>> tables;
  const std::string key = num.data.name() + "/" + num.prob.name() + "/" + num.exp.name();
  std::lock_guard<std::mutex> guard(lock);
  auto& t = tables[key];
  if (!t) {
    auto v = std::make_shared<std::vector<int16_t>>(size_t(1) << num.data.width);
    const double prob_unit = std::ldexp(1.0, num.prob.frac);
    for (size_t diff = 0; diff < v->size(); ++diff) {
      const double x = -std::ldexp(static_cast<double>(diff), -num.data.frac);
      (*v)[diff] = to_code(num.prob.round(num.exp(x)), prob_unit);
    }
    t = v;
  }
  return t;
}

// Per-tile working memory, reused across tiles (the simulator runs on one OS
// thread; thread_local keeps tests on several threads safe).
struct Scratch {
  std::vector<int32_t> pos;           // key -> position in the tile's key union, -1 elsewhere
  std::vector<int32_t> keys;          // the union, ascending
  MatI16 q;                           // query codes
  // Scattered masks: the tile's CSC over union positions.
  std::vector<int32_t> col_ptr, col_entry, entry_row, fill;  // column starts, CSR index per entry, row per entry
  // Shared keys: a block of the union's dot products and score codes; each row's cursor in its entries.
  std::vector<int64_t> block_dots;
  std::vector<int32_t> block_scores, cursor;
  std::vector<int32_t> score;         // score codes, CSR order
  std::vector<int16_t> e;             // exponential codes, CSR order
  std::vector<int64_t> z, acc;        // per row Σe; rows x d Σe·v
  std::vector<int16_t> e_rows, vt;    // exponentials over the union (rows x n); Vᵀ of a block of it (gathered)
  std::vector<int32_t> acc32, terms;  // scattered Σe·v: int32 row accumulators, terms since their last flush
};

}  // namespace

bool codes_apply(const HeadOperands& kv, const AttentionNumerics& num) {
  return num.data.is_fixed() && num.data.width <= 16 && num.prob.is_fixed() && num.prob.width <= 16 &&
         kv.code_frac == num.data.frac && kv.k_codes.size() == kv.k.size();
}

void encode_operands(HeadOperands& h, const NumberFormat& data) {
  h.k_codes.resize(0, 0);
  h.v_codes.resize(0, 0);
  h.vt_codes.resize(0, 0);
  h.code_frac = -1;
  h.k_code_max = h.v_code_max = 0;
  if (!data.is_fixed() || data.width > 16) return;
  const double unit = std::ldexp(1.0, data.frac);
  h.k_codes = h.k.unaryExpr([&](double x) { return to_code(x, unit); });
  h.v_codes = h.v.unaryExpr([&](double x) { return to_code(x, unit); });
  h.vt_codes = h.v_codes.transpose();
  h.code_frac = data.frac;
  h.k_code_max = h.k_codes.size() ? h.k_codes.cast<int>().cwiseAbs().maxCoeff() : 0;
  h.v_code_max = h.v_codes.size() ? h.v_codes.cast<int>().cwiseAbs().maxCoeff() : 0;
}

// Compiled for baseline x86-64 and for AVX2, the copy picked when the program
// loads (GCC function multiversioning): integer arithmetic and the same
// double operations in both, so both give the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
MaskedAttention masked_attention_codes(const MatF& q_tile, const HeadOperands& kv, const CsrMask& mask,
                                       const AttentionNumerics& num) {
  thread_local Scratch s;
  const int rows = mask.rows, d = static_cast<int>(kv.k.cols());
  const int64_t nnz = mask.nnz();
  const int F = num.data.frac, Fp = num.prob.frac;
  MaskedAttention out;
  out.scores.resize(nnz);
  if (num.probabilities) out.probs.resize(nnz);
  out.output = MatF::Zero(rows, d);
  if (nnz == 0) return out;

  // Query codes.
  MatD qd = q_tile.cast<double>();
  round_to_format(qd, num.data);
  const double unit = std::ldexp(1.0, F);
  s.q = qd.unaryExpr([&](double x) { return to_code(x, unit); });
  const int q_max = s.q.cast<int>().cwiseAbs().maxCoeff();
  const int qk_piece = int32_terms(q_max, kv.k_code_max);
  const double score_unit = std::ldexp(1.0, -2 * F) * num.scale;
  const NumberFormat data = num.data;
  auto score_code = [data, score_unit](auto dot) {
    return static_cast<int32_t>(data.round_code(static_cast<double>(dot) * score_unit));
  };

  // The tile's keys: their union (ascending) and each key's position in it.
  if (static_cast<int>(s.pos.size()) < mask.cols) s.pos.assign(mask.cols, -1);
  s.keys.clear();
  for (int32_t j : mask.indices)
    if (s.pos[j] < 0) s.pos[j] = 0, s.keys.push_back(j);
  std::sort(s.keys.begin(), s.keys.end());
  const int n = static_cast<int>(s.keys.size());
  for (int p = 0; p < n; ++p) s.pos[s.keys[p]] = p;
  // Rows that share their keys (block layouts, dense and causal tiles) are
  // computed over the whole union — the union costs at most 3x the kept
  // entries — with dense dot products; scattered masks entry by entry.
  const bool shared_keys = nnz * 3 >= static_cast<int64_t>(rows) * n;

  // Scores (codes), CSR order.
  s.score.resize(nnz);
  if (shared_keys) {
    // Every row against every key of the union, four keys at a time, in
    // blocks of keys whose scores stay in cache; each row's kept entries are
    // picked from the block as its cursor passes.
    constexpr int kKeyBlock = 256;
    s.cursor.assign(mask.indptr.begin(), mask.indptr.end() - 1);
    s.block_scores.resize(static_cast<size_t>(rows) * kKeyBlock);
    s.block_dots.resize(static_cast<size_t>(rows) * kKeyBlock);
    for (int p0 = 0; p0 < n; p0 += kKeyBlock) {
      const int p1 = std::min(n, p0 + kKeyBlock), w = p1 - p0;
      std::fill(s.block_dots.begin(), s.block_dots.end(), 0);
      for (int p = p0; p < p1; p += 4) {
        const int m = std::min(4, p1 - p);
        const int16_t* k[4];
        for (int u = 0; u < 4; ++u) k[u] = kv.k_codes.row(s.keys[p + std::min(u, m - 1)]).data();
        for (int i = 0; i < rows; ++i) {
          int64_t* dst = &s.block_dots[static_cast<size_t>(i) * kKeyBlock + (p - p0)];
          if (qk_piece >= d)
            add_dot32x4(s.q.row(i).data(), k[0], k[1], k[2], k[3], d, dst);
          else
            for (int u = 0; u < m; ++u) dst[u] = dot64(s.q.row(i).data(), k[u], d, qk_piece);
        }
      }
      for (int i = 0; i < rows; ++i) {
        const int64_t* dots = &s.block_dots[static_cast<size_t>(i) * kKeyBlock];
        int32_t* codes = &s.block_scores[static_cast<size_t>(i) * kKeyBlock];
        if (qk_piece >= d)  // the dots fit int32: a loop the compiler vectorises
          for (int p = 0; p < w; ++p) codes[p] = score_code(static_cast<int32_t>(dots[p]));
        else
          for (int p = 0; p < w; ++p) codes[p] = score_code(dots[p]);
        int& t = s.cursor[i];
        for (int p; t < mask.indptr[i + 1] && (p = s.pos[mask.indices[t]]) < p1; ++t) s.score[t] = codes[p - p0];
      }
    }
  } else {
    // One dot product per kept entry, key by key (through the tile's CSC), so
    // that the key's row of K stays in cache for all the rows keeping it.
    s.col_ptr.assign(n + 1, 0);
    for (int32_t j : mask.indices) ++s.col_ptr[s.pos[j] + 1];
    for (int p = 0; p < n; ++p) s.col_ptr[p + 1] += s.col_ptr[p];
    s.col_entry.resize(nnz);
    s.entry_row.resize(nnz);
    s.fill.assign(s.col_ptr.begin(), s.col_ptr.end() - 1);
    for (int i = 0; i < rows; ++i)
      for (int t = mask.indptr[i]; t < mask.indptr[i + 1]; ++t) {
        s.col_entry[s.fill[s.pos[mask.indices[t]]]++] = t;
        s.entry_row[t] = i;
      }
    auto q_of = [&](int c) { return s.q.row(s.entry_row[s.col_entry[c]]).data(); };
    for (int p = 0; p < n; ++p) {
      const int16_t* k = kv.k_codes.row(s.keys[p]).data();
      int c = s.col_ptr[p];
      if (qk_piece >= d)  // four rows at a time share the key's loads
        for (; c + 4 <= s.col_ptr[p + 1]; c += 4) {
          int64_t dots[4] = {0, 0, 0, 0};
          add_dot32x4(k, q_of(c), q_of(c + 1), q_of(c + 2), q_of(c + 3), d, dots);
          for (int u = 0; u < 4; ++u) s.score[s.col_entry[c + u]] = score_code(dots[u]);
        }
      for (; c < s.col_ptr[p + 1]; ++c) s.score[s.col_entry[c]] = score_code(dot64(q_of(c), k, d, qk_piece));
    }
  }

  // Exponentials (table lookup on the code difference to the row maximum)
  // and exp sums, row by row.
  const auto table = exp_table(num);
  const int16_t* exp_of = table->data();
  s.e.resize(nnz);
  s.z.assign(rows, 0);
  int e_max = 0;
  for (int i = 0; i < rows; ++i) {
    const int b = mask.indptr[i], end = mask.indptr[i + 1];
    if (b == end) continue;
    const int32_t own = *std::max_element(s.score.begin() + b, s.score.begin() + end);
    const int32_t m = num.row_max ? static_cast<int32_t>(num.data.round_code((*num.row_max)[i])) : own;
    for (int t = b; t < end; ++t) {
      // A score above the given maximum (exp > 1): off the table, rare.
      s.e[t] = m >= s.score[t] ? exp_of[m - s.score[t]]
                               : static_cast<int16_t>(to_code(exp_of_score(num, std::ldexp(s.score[t] - m, -F), 0.0,
                                                                           out.exp_saturated),
                                                              std::ldexp(1.0, Fp)));
      s.z[i] += s.e[t];
      e_max = std::max<int>(e_max, s.e[t]);
    }
  }

  // Σ e·v.
  const int pv_piece = int32_terms(e_max, kv.v_code_max);
  s.acc.assign(static_cast<size_t>(rows) * d, 0);
  if (shared_keys) {
    // The rows' exponentials over the union (zeros where a row does not keep
    // a key) times Vᵀ of the union: dot products along the keys, in blocks
    // of keys that stay in cache.
    s.e_rows.assign(static_cast<size_t>(rows) * n, 0);
    for (int i = 0; i < rows; ++i)
      for (int t = mask.indptr[i]; t < mask.indptr[i + 1]; ++t)
        s.e_rows[static_cast<size_t>(i) * n + s.pos[mask.indices[t]]] = s.e[t];
    const int block = std::min(pv_piece, 1024);
    const size_t ld_vt = kv.vt_codes.cols();
    for (int k0 = 0; k0 < n; k0 += block) {
      const int len = std::min(block, n - k0);
      // Vᵀ of the block's keys: in place when they are consecutive, else gathered.
      const int16_t* vt = kv.vt_codes.data() + s.keys[k0];
      size_t ld = ld_vt;
      if (s.keys[k0 + len - 1] - s.keys[k0] != len - 1) {
        s.vt.resize(static_cast<size_t>(d) * len);
        for (int c = 0; c < d; ++c)
          for (int p = 0; p < len; ++p) s.vt[static_cast<size_t>(c) * len + p] = kv.vt_codes(c, s.keys[k0 + p]);
        vt = s.vt.data();
        ld = len;
      }
      for (int c = 0; c < d; c += 4) {
        const int16_t* v0 = vt + c * ld;
        for (int i = 0; i < rows; ++i) {
          const int16_t* e = &s.e_rows[static_cast<size_t>(i) * n + k0];
          int64_t* a = &s.acc[static_cast<size_t>(i) * d + c];
          if (c + 4 <= d)
            add_dot32x4(e, v0, v0 + ld, v0 + 2 * ld, v0 + 3 * ld, len, a);
          else
            for (int u = 0; c + u < d; ++u) a[u] += dot32(e, v0 + u * ld, len);
        }
      }
    }
  } else {
    // One multiply-add row per kept entry, key by key, in int32 row
    // accumulators flushed to int64 before they could overflow.
    s.acc32.assign(static_cast<size_t>(rows) * d, 0);
    s.terms.assign(rows, 0);
    auto flush = [&](int i) {
      int32_t* a32 = &s.acc32[static_cast<size_t>(i) * d];
      int64_t* a = &s.acc[static_cast<size_t>(i) * d];
      for (int c = 0; c < d; ++c) a[c] += a32[c], a32[c] = 0;
      s.terms[i] = 0;
    };
    for (int p = 0; p < n; ++p) {
      const int16_t* v = kv.v_codes.row(s.keys[p]).data();
      for (int c = s.col_ptr[p]; c < s.col_ptr[p + 1]; ++c) {
        const int t = s.col_entry[c], i = s.entry_row[t];
        if (s.terms[i] == pv_piece) flush(i);
        axpy32(&s.acc32[static_cast<size_t>(i) * d], s.e[t], v, d);
        ++s.terms[i];
      }
    }
    for (int i = 0; i < rows; ++i) flush(i);
  }

  // Values, as the definition computes them in double (every quantity below
  // is an exact double).
  const double score_lsb = std::ldexp(1.0, -F), prob_lsb = std::ldexp(1.0, -Fp), acc_lsb = std::ldexp(1.0, -F - Fp);
  for (int i = 0; i < rows; ++i) {
    const int b = mask.indptr[i], end = mask.indptr[i + 1];
    if (b == end) continue;
    const double z = static_cast<double>(s.z[i]) * prob_lsb;
    for (int t = b; t < end; ++t) {
      out.scores[t] = static_cast<float>(s.score[t] * score_lsb);
      if (num.probabilities) out.probs[t] = static_cast<float>(num.prob.round(s.e[t] * prob_lsb / z));
    }
    const int64_t* a = &s.acc[static_cast<size_t>(i) * d];
    for (int c = 0; c < d; ++c)
      out.output(i, c) = static_cast<float>(num.data.round(static_cast<double>(a[c]) * acc_lsb / z));
  }
  for (int32_t j : s.keys) s.pos[j] = -1;
  return out;
}

}  // namespace attnsim
