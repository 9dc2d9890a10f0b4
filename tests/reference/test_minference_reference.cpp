// attnsim's MInference-style pattern detector (kernels/pattern_detect.h,
// kernels/patterns.h, kernels/pattern_static.h) held to microsoft/MInference
// on the same inputs (tests/reference/facts/minference_index_sets.json, made
// by tests/reference/minference/run_minference_reference.py, which runs their
// Python code on CPU). The inputs are not stored: they are rebuilt here from
// the facts' documented LCG (`generator`) and checked against its checksums.
//   * Inputs: Q/K/V per head from the LCG, checksums and SHA-256 identical.
//   * Vertical-slash: estimate_probs + vertical_slash_scores + pick_vertical_slash
//     give their vertical / slash index sets; vertical_slash_layout gives
//     their convert_vertical_slash_indexes layout; nnz as their kernel's.
//   * Block-sparse: pick_block_sparse(pooled_block_scores) equals MInference's
//     sets (scored diagonal, the default) and, with the diagonal forced, the
//     diagonal-forced sets (theirs differ exactly on row_blocks_without_diagonal).
//   * A-shape: granularity exact is their streaming kernel's element rule;
//     block granularity's extra entries recorded.
// Each test writes its comparison table to ATTNSIM_REFERENCE_OUT/minference_<test>.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/pattern_detect.h"
#include "kernels/pattern_static.h"
#include "kernels/patterns.h"

using namespace attnsim;
using nlohmann::json;

namespace {

constexpr const char* kFactsPath = ATTNSIM_SOURCE_DIR "/tests/reference/facts/minference_index_sets.json";
constexpr int kHeadDim = 64;
constexpr int kBlock = 64;
constexpr int kLastQ = 64;
constexpr double kScale = 0.125;  // 1 / sqrt(64)
// cpp_comparison.margins: a top-k boundary with a relative margin below ~1e-5
// may flip under float32 rounding (summation order, exp ulps).
constexpr double kFragileMargin = 1e-5;

const json& facts() {
  static const json j = [] {
    std::ifstream f(kFactsPath);
    if (!f) throw std::runtime_error(std::string("cannot open ") + kFactsPath);
    return json::parse(f);
  }();
  return j;
}

std::string reference_of(const std::string& functions) {
  const auto& p = facts().at("provenance");
  return p.at("repo").get<std::string>() + " " + p.at("commit").get<std::string>() + ", " + functions;
}

void write_table(const std::string& test, const std::string& functions, const json& notes, const json& rows) {
  const std::filesystem::path dir(ATTNSIM_REFERENCE_OUT);
  std::filesystem::create_directories(dir);
  const json out = {{"unit", "MInference / DynamiQK pattern detector"},
                    {"reference", reference_of(functions)},
                    {"notes", notes},
                    {"rows", rows}};
  std::ofstream f(dir / ("minference_" + test + ".json"));
  f << out.dump(1) << "\n";
  ASSERT_TRUE(f.good()) << "cannot write " << (dir / ("minference_" + test + ".json"));
}

// ------------------------------------------------------------------ SHA-256
std::string sha256_hex(const uint8_t* data, size_t len) {
  static const uint32_t K[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
      0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
      0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
      0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
      0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
      0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
      0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  std::vector<uint8_t> msg(data, data + len);
  msg.push_back(0x80);
  while (msg.size() % 64 != 56) msg.push_back(0);
  const uint64_t bits = static_cast<uint64_t>(len) * 8;
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  uint32_t w[64];
  for (size_t off = 0; off < msg.size(); off += 64) {
    for (int t = 0; t < 16; ++t)
      w[t] = (uint32_t(msg[off + 4 * t]) << 24) | (uint32_t(msg[off + 4 * t + 1]) << 16) |
             (uint32_t(msg[off + 4 * t + 2]) << 8) | uint32_t(msg[off + 4 * t + 3]);
    for (int t = 16; t < 64; ++t) {
      const uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; ++t) {
      const uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const uint32_t ch = (e & f) ^ (~e & g);
      const uint32_t t1 = hh + S1 + ch + K[t] + w[t];
      const uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
      const uint32_t t2 = S0 + mj;
      hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
  char buf[65];
  for (int i = 0; i < 8; ++i) std::snprintf(buf + 8 * i, 9, "%08x", h[i]);
  return std::string(buf, 64);
}

// ------------------------------------------------------------------ inputs
// The facts' `generator` (lcg64-grid16), in units of 1/16.
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    s_ = s_ * 6364136223846793005ULL + 1442695040888963407ULL;  // mod 2^64 by unsigned wrap-around
    return s_;
  }
  int noise16() { return static_cast<int>(next() >> 59) - 16; }  // (r - 16) / 16, times 16
  int sign() { return (next() >> 63) ? -1 : 1; }

 private:
  uint64_t s_;
};

struct HeadInputs {
  int seq = 0, head = 0;
  std::vector<int8_t> q16, k16, v16;  // [seq][64], 16 x the value
  MatF q, k;
};

HeadInputs make_inputs(int seq, int head, const json& planted) {
  HeadInputs in;
  in.seq = seq;
  in.head = head;
  Lcg g(1000003ULL * static_cast<uint64_t>(seq) + static_cast<uint64_t>(head));
  const size_t n = static_cast<size_t>(seq) * kHeadDim;
  auto noise = [&](std::vector<int8_t>& a) {
    a.resize(n);
    for (size_t t = 0; t < n; ++t) a[t] = static_cast<int8_t>(g.noise16());
  };
  noise(in.q16);
  noise(in.k16);
  noise(in.v16);
  std::array<int, 8> sv{};
  for (int d = 0; d < 8; ++d) sv[d] = g.sign();
  std::vector<std::vector<int>> F(2, std::vector<int>(static_cast<size_t>(2 * seq) * 16));
  for (auto& f : F)
    for (auto& x : f) x = g.sign();
  auto at = [&](std::vector<int8_t>& a, int i, int d) -> int8_t& { return a[static_cast<size_t>(i) * kHeadDim + d]; };
  const auto verticals = planted.at("verticals").get<std::vector<int>>();
  if (!verticals.empty()) {
    for (int i = 0; i < seq; ++i)
      for (int d = 0; d < 8; ++d) {
        at(in.q16, i, d) = static_cast<int8_t>(24 * sv[d]);  // 1.5 * sv
        at(in.k16, i, d) = 0;
      }
    for (int j : verticals)
      for (int d = 0; d < 8; ++d) at(in.k16, j, d) = static_cast<int8_t>(32 * sv[d]);  // 2 * sv
  }
  const auto slashes = planted.at("slash_offsets").get<std::vector<int>>();
  for (size_t gi = 0; gi < slashes.size(); ++gi) {
    const int lo = 8 + 16 * static_cast<int>(gi), o = slashes[gi];
    for (int i = 0; i < seq; ++i)
      for (int d = 0; d < 16; ++d) {
        at(in.q16, i, lo + d) = static_cast<int8_t>(16 * F[gi][static_cast<size_t>(i) * 16 + d]);
        at(in.k16, i, lo + d) = static_cast<int8_t>(24 * F[gi][static_cast<size_t>(i + o) * 16 + d]);
      }
  }
  auto to_mat = [&](const std::vector<int8_t>& a) {
    MatF m(seq, kHeadDim);
    for (int i = 0; i < seq; ++i)
      for (int d = 0; d < kHeadDim; ++d) m(i, d) = static_cast<float>(a[static_cast<size_t>(i) * kHeadDim + d]) / 16.f;
    return m;
  };
  in.q = to_mat(in.q16);
  in.k = to_mat(in.k16);
  return in;
}

json checksum(const std::vector<int8_t>& a) {
  int64_t s = 0, s2 = 0;
  for (int8_t x : a) s += x, s2 += int64_t(x) * x;
  return {{"sum", s}, {"sum_sq", s2}};
}

json checks_of(const HeadInputs& in) {
  std::vector<int> qf(in.q16.begin(), in.q16.begin() + 8);
  const size_t last = static_cast<size_t>(in.seq - 1) * kHeadDim;
  std::vector<int> kl(in.k16.begin() + last, in.k16.begin() + last + 8);
  return {{"q16", checksum(in.q16)},
          {"k16", checksum(in.k16)},
          {"v16", checksum(in.v16)},
          {"sha256_q16_int8", sha256_hex(reinterpret_cast<const uint8_t*>(in.q16.data()), in.q16.size())},
          {"sha256_k16_int8", sha256_hex(reinterpret_cast<const uint8_t*>(in.k16.data()), in.k16.size())},
          {"q_first_row_x16", qf},
          {"k_last_row_x16", kl}};
}

// Inputs of every (case, head), rebuilt and verified; a mismatch fails the
// calling test loudly (nothing after it would compare like with like).
struct Head {
  const json* fact = nullptr;  // cases[c].heads[h]
  int seq = 0;
  HeadInputs in;
};

std::vector<Head> verified_heads() {
  std::vector<Head> out;
  for (const auto& c : facts().at("cases")) {
    const int seq = c.at("seq").get<int>();
    EXPECT_EQ(c.at("head_dim").get<int>(), kHeadDim);
    EXPECT_DOUBLE_EQ(c.at("scale").get<double>(), kScale);
    for (const auto& h : c.at("heads")) {
      Head hd;
      hd.fact = &h;
      hd.seq = seq;
      const int head = h.at("head").get<int>();
      EXPECT_EQ(h.at("seed").get<uint64_t>(), 1000003ULL * seq + head);
      hd.in = make_inputs(seq, head, h.at("planted"));
      const json got = checks_of(hd.in);
      if (got != h.at("checksums")) {
        ADD_FAILURE() << "the C++ LCG does not reproduce the facts' inputs for seq " << seq << " head " << head
                      << ":\n  C++:   " << got.dump() << "\n  facts: " << h.at("checksums").dump();
        throw std::runtime_error("generator mismatch");
      }
      out.push_back(std::move(hd));
    }
  }
  return out;
}

std::string case_name(const Head& h) {
  return "seq " + std::to_string(h.seq) + " head " + std::to_string(h.in.head);
}

std::string planted_text(const json& p) {
  return "planted verticals " + p.at("verticals").dump() + ", slash offsets " + p.at("slash_offsets").dump();
}

// Entries of a in b's complement and vice versa.
template <class T>
std::pair<std::vector<T>, std::vector<T>> set_diff(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<T> sa(a), sb(b), only_a, only_b;
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  std::set_difference(sa.begin(), sa.end(), sb.begin(), sb.end(), std::back_inserter(only_a));
  std::set_difference(sb.begin(), sb.end(), sa.begin(), sa.end(), std::back_inserter(only_b));
  return {only_a, only_b};
}

// Relative gap at attnsim's own top-k boundary (forced +inf entries excluded), as the facts' margins.
json own_margin(const std::vector<float>& scores, int k) {
  std::vector<double> finite;
  int forced = 0;
  for (float s : scores)
    if (std::isfinite(s))
      finite.push_back(s);
    else
      ++forced;
  std::sort(finite.rbegin(), finite.rend());
  const int kf = k - forced;
  if (kf <= 0 || kf >= static_cast<int>(finite.size())) return nullptr;
  const double a = finite[kf - 1], b = finite[kf];
  return (a - b) / std::max(std::abs(a), 1e-30);
}

int64_t plan_nnz(const HeadPattern& hp) {
  MaskPlan plan;
  plan.by_query = {hp};
  return plan.count_nnz();
}

}  // namespace

// 1. The documented LCG rebuilds the inputs MInference ran on.
TEST(MinferenceReference, InputsFromTheGenerator) {
  const auto& gen = facts().at("generator");
  ASSERT_EQ(gen.at("name").get<std::string>(), "lcg64-grid16");
  std::vector<Head> heads;
  ASSERT_NO_THROW(heads = verified_heads()) << "see the failure above: the generator does not reproduce the facts";
  ASSERT_EQ(heads.size(), 8u);
  json rows = json::array();
  for (const auto& h : heads) {
    const json got = checks_of(h.in), want = h.fact->at("checksums");
    rows.push_back({{"case", case_name(h)},
                    {"inputs", planted_text(h.fact->at("planted")) + "; seed " + std::to_string(h.fact->at("seed").get<uint64_t>())},
                    {"attnsim", "sha256(16Q) " + got.at("sha256_q16_int8").get<std::string>().substr(0, 16) +
                                    "…, sha256(16K) " + got.at("sha256_k16_int8").get<std::string>().substr(0, 16) +
                                    "…, sum/sum_sq of 16Q, 16K, 16V"},
                    {"reference", "sha256(16Q) " + want.at("sha256_q16_int8").get<std::string>().substr(0, 16) +
                                      "…, sha256(16K) " + want.at("sha256_k16_int8").get<std::string>().substr(0, 16) + "…"},
                    {"difference", got == want ? "identical" : "differs"},
                    {"parameter", "generator lcg64-grid16 (facts `generator`), C++ rebuild"}});
  }
  write_table("inputs", "inputs of run_minference_reference.py (make_inputs)",
              {"Q/K/V are not stored in the facts; the test rebuilds them from the documented 64-bit LCG and checks "
               "the facts' per-head checksums: sums and sums of squares of 16Q, 16K, 16V and SHA-256 of 16Q, 16K as int8.",
               "Every value is a multiple of 1/16, so QKᵀ is exact in float32 in any summation order."},
              rows);
}

// 2. Vertical-slash: index sets, layout, element counts.
TEST(MinferenceReference, VerticalSlashIndexSetsAndLayout) {
  std::vector<Head> heads;
  ASSERT_NO_THROW(heads = verified_heads());
  json rows = json::array(), notes = json::array();
  int configs = 0, identical_sets = 0, fragile = 0, fragile_identical = 0;
  for (const auto& h : heads) {
    const int L = h.seq;
    std::vector<int> est_rows;
    for (int i = std::max(0, L - kLastQ); i < L; ++i) est_rows.push_back(i);
    const MatF probs = estimate_probs(h.in.q, h.in.k, kScale, est_rows);
    const VerticalSlashScores sc = vertical_slash_scores(probs, est_rows, 30, 100);
    for (const auto& vs : h.fact->at("vertical_slash")) {
      ++configs;
      const auto eff = vs.at("effective").get<std::vector<int>>();
      const auto req = vs.at("requested").get<std::vector<int>>();
      // MInference's size rule min(q_len, max(v, 30)), min(q_len, max(s, 50)).
      EXPECT_EQ(eff[0], std::min(L, std::max(req[0], 30)));
      EXPECT_EQ(eff[1], std::min(L, std::max(req[1], 50)));
      const auto ref_v = vs.at("verticals").get<std::vector<int32_t>>();
      const auto ref_s = vs.at("slashes").get<std::vector<int32_t>>();
      const VerticalSlash got = pick_vertical_slash(sc, eff[0], eff[1]);
      const std::string where = case_name(h) + " sizes " + vs.at("requested").dump();
      const json vm = vs.at("vertical_margin"), sm = vs.at("slash_margin");
      const bool v_sure = vm.is_null() || vm.get<double>() >= kFragileMargin;
      const bool s_sure = sm.is_null() || sm.get<double>() >= kFragileMargin;
      const auto [v_only_a, v_only_r] = set_diff(got.verticals, ref_v);
      const auto [s_only_a, s_only_r] = set_diff(got.slashes, ref_s);
      const bool v_same = got.verticals == ref_v, s_same = got.slashes == ref_s;
      if (v_sure) {
        EXPECT_EQ(got.verticals, ref_v) << where << ": verticals (margin " << vm << ")";
      } else {
        ++fragile;
        // Below the margin a flip at the boundary is float32 rounding, not a different rule:
        // the sizes must still agree and any swap must be a single pair at the boundary.
        EXPECT_EQ(got.verticals.size(), ref_v.size()) << where;
        EXPECT_LE(v_only_a.size(), 1u) << where << ": verticals differ beyond a boundary flip (margin " << vm << ")";
      }
      if (s_sure) {
        EXPECT_EQ(got.slashes, ref_s) << where << ": slashes (margin " << sm << ")";
      } else {
        ++fragile;
        EXPECT_EQ(got.slashes.size(), ref_s.size()) << where;
        EXPECT_LE(s_only_a.size(), 1u) << where << ": slashes differ beyond a boundary flip (margin " << sm << ")";
      }
      if (v_same && s_same) ++identical_sets;
      if ((!v_sure && v_same) || (!s_sure && s_same)) fragile_identical += (!v_sure && v_same) + (!s_sure && s_same);

      // The layout: attnsim's conversion of attnsim's sets, and of their sets.
      const json lay = vertical_slash_layout(L, got.verticals, got.slashes, kBlock).to_json();
      const json lay_of_ref = vertical_slash_layout(L, ref_v, ref_s, kBlock).to_json();
      const json& ref_lay = vs.at("layout");
      int layout_rows_differing = 0;
      for (const char* key : {"block_count", "block_offset", "column_count", "column_index"}) {
        EXPECT_EQ(lay_of_ref.at(key), ref_lay.at(key)) << where << ": vertical_slash_layout of their sets, " << key;
        if (v_same && s_same) {
          EXPECT_EQ(lay.at(key), ref_lay.at(key)) << where << ": layout " << key;
        }
      }
      const int nrb = static_cast<int>(ref_lay.at("block_count").size());
      EXPECT_EQ(nrb, (L + kBlock - 1) / kBlock);
      for (int m = 0; m < nrb; ++m)
        if (lay.at("block_offset").at(m) != ref_lay.at("block_offset").at(m) ||
            lay.at("column_index").at(m) != ref_lay.at("column_index").at(m))
          ++layout_rows_differing;

      // Element counts: block layout (their v2 kernel) and exact set (their make_finegrained_mask).
      HeadPattern hp;
      hp.kind = "vertical_slash";
      hp.seq = L;
      hp.block = kBlock;
      hp.verticals = got.verticals;
      hp.slashes = got.slashes;
      hp.block_granular = true;
      hp.prepare();
      const int64_t nnz = plan_nnz(hp);
      hp.block_granular = false;
      hp.prepare();
      const int64_t nnz_fine = plan_nnz(hp);
      const int64_t ref_nnz = vs.at("nnz").get<int64_t>(), ref_fine = vs.at("nnz_fine").get<int64_t>();
      if (v_same && s_same) {
        EXPECT_EQ(nnz, ref_nnz) << where << ": block-layout entries";
        EXPECT_EQ(nnz_fine, ref_fine) << where << ": exact entries";
      }
      int64_t blocks = 0, cols = 0, ref_blocks = 0, ref_cols = 0;
      for (int m = 0; m < nrb; ++m) {
        blocks += lay.at("block_count").at(m).get<int64_t>();
        cols += lay.at("column_count").at(m).get<int64_t>();
        ref_blocks += ref_lay.at("block_count").at(m).get<int64_t>();
        ref_cols += ref_lay.at("column_count").at(m).get<int64_t>();
      }
      std::ostringstream diff;
      if (v_same && s_same && layout_rows_differing == 0 && nnz == ref_nnz && nnz_fine == ref_fine) {
        diff << "identical (verticals, slashes, layout of " << nrb << " row blocks, nnz)";
      } else {
        diff << "verticals +" << v_only_a.size() << "/-" << v_only_r.size() << ", slashes +" << s_only_a.size() << "/-"
             << s_only_r.size() << ", layout row blocks differing " << layout_rows_differing << ", nnz "
             << (nnz - ref_nnz) << ", nnz_fine " << (nnz_fine - ref_fine);
        if (!v_sure || !s_sure) diff << " (boundary margin below 1e-5: float32 rounding)";
      }
      std::ostringstream a, r;
      a << "v " << got.verticals.size() << ", s " << got.slashes.size() << "; layout " << blocks << " key blocks + "
        << cols << " columns; nnz " << nnz << " (exact set " << nnz_fine << ")";
      r << "v " << ref_v.size() << ", s " << ref_s.size() << "; layout " << ref_blocks << " key blocks + " << ref_cols
        << " columns; nnz " << ref_nnz << " (exact set " << ref_fine << ")";
      std::ostringstream par;
      par << "requested " << req[0] << "/" << req[1] << " -> effective " << eff[0] << "/" << eff[1]
          << "; init_columns 30, local_diagonals 100, last_q 64; margins v " << vm.dump() << " (attnsim "
          << own_margin(sc.vertical, eff[0]).dump() << "), s " << sm.dump() << " (attnsim "
          << own_margin(sc.slash, eff[1]).dump() << ")";
      rows.push_back({{"case", where},
                      {"inputs", planted_text(h.fact->at("planted"))},
                      {"attnsim", a.str()},
                      {"reference", r.str()},
                      {"difference", diff.str()},
                      {"parameter", par.str()}});
    }
  }
  notes.push_back("attnsim: estimate_probs(q, k, 0.125, last 64 rows), vertical_slash_scores(probs, rows, 30, 100), "
                  "pick_vertical_slash(scores, v, s), vertical_slash_layout(L, verticals, slashes, 64); nnz = "
                  "MaskPlan::count_nnz of the vertical_slash pattern, block granularity (and exact granularity for "
                  "the exact set).");
  notes.push_back("reference: their vertical_and_slash_kernel inside minference_prefill_kernel (index sets), "
                  "convert_vertical_slash_indexes (csrc/vertical_slash_index.cu, reimplemented in Python by the "
                  "facts' script) for the layout, and their v1 make_finegrained_mask for the exact set.");
  notes.push_back(std::to_string(identical_sets) + " of " + std::to_string(configs) +
                  " configurations have identical vertical and slash sets. " + std::to_string(fragile) +
                  " top-k boundary(ies) have a facts margin below 1e-5 (float32 rounding could flip them: there a "
                  "single boundary swap would be accepted); " + std::to_string(fragile_identical) +
                  " of them are identical all the same.");
  notes.push_back("vertical_slash_layout of MInference's own sets equals their layout in every configuration.");
  write_table("vertical_slash",
              "minference_forward.minference_prefill_kernel (vertical_and_slash_kernel), sum_all_diagonal_matrix, "
              "convert_vertical_slash_indexes",
              notes, rows);
}

// 3. Block-sparse: attnsim forces the diagonal block, MInference does not.
TEST(MinferenceReference, BlockSparseKeyBlocks) {
  std::vector<Head> heads;
  ASSERT_NO_THROW(heads = verified_heads());
  json rows = json::array();
  int configs = 0, identical_forced = 0, identical_scored = 0, rows_without_diag = 0;
  for (const auto& h : heads) {
    const int L = h.seq, nb = (L + kBlock - 1) / kBlock;
    const MatF pooled = pooled_block_scores(h.in.q, h.in.k, kScale, kBlock);
    ASSERT_EQ(pooled.rows(), nb);
    for (const auto& bs : h.fact->at("block_sparse")) {
      ++configs;
      const int top_k = bs.at("top_k").get<int>();
      const std::string where = case_name(h) + " top_k " + std::to_string(top_k);
      // Their _build_block_index caps top_k at padded_context / 64 (one padded block more than nb here).
      EXPECT_EQ(bs.at("padded_context").get<int>(), L + kBlock - L % kBlock);
      EXPECT_EQ(bs.at("top_k_cap").get<int>(), std::min(top_k, bs.at("padded_context").get<int>() / kBlock));
      const auto got = pick_block_sparse(pooled, top_k, true);        // block_sparse_diagonal = forced
      const auto scored = pick_block_sparse(pooled, top_k, false);    // = scored, the default
      const auto forced = bs.at("key_blocks_diagonal_forced").get<std::vector<std::vector<int32_t>>>();
      const auto theirs = bs.at("key_blocks").get<std::vector<std::vector<int32_t>>>();
      const auto without = bs.at("row_blocks_without_diagonal").get<std::vector<int>>();
      ASSERT_EQ(static_cast<int>(got.size()), nb);
      ASSERT_EQ(static_cast<int>(forced.size()), nb);
      ASSERT_EQ(static_cast<int>(theirs.size()), nb);
      int rows_diff_forced = 0;
      std::vector<int> rows_diff_theirs;
      int rows_diff_scored = 0;
      for (int m = 0; m < nb; ++m) {
        EXPECT_EQ(scored[m], theirs[m]) << where << ", row block " << m << " (scored)";
        rows_diff_scored += scored[m] != theirs[m];
        EXPECT_EQ(got[m], forced[m]) << where << ", row block " << m << " (margin " << bs.at("margins").at(m) << ")";
        if (got[m] != forced[m]) ++rows_diff_forced;
        if (got[m] != theirs[m]) rows_diff_theirs.push_back(m);
        // Theirs on a row block without its diagonal: the same size, and attnsim's set is
        // theirs with their lowest-scored block replaced by the diagonal block.
        if (std::find(without.begin(), without.end(), m) != without.end()) {
          const auto [only_a, only_r] = set_diff(got[m], theirs[m]);
          EXPECT_EQ(got[m].size(), theirs[m].size()) << where << ", row block " << m;
          EXPECT_EQ(only_a, std::vector<int32_t>{m}) << where << ", row block " << m;
          EXPECT_EQ(only_r.size(), 1u) << where << ", row block " << m;
        }
      }
      // Their sets differ from attnsim's exactly on the row blocks lacking the diagonal.
      EXPECT_EQ(rows_diff_theirs, without) << where;
      if (rows_diff_forced == 0) ++identical_forced;
      if (rows_diff_scored == 0) ++identical_scored;
      rows_without_diag += static_cast<int>(without.size());

      // Element counts (causal): their visited blocks; attnsim's block_sparse plan.
      int64_t ref_nnz = 0, forced_nnz = 0;
      auto count = [&](const std::vector<std::vector<int32_t>>& sets) {
        int64_t n = 0;
        for (int m = 0; m < nb; ++m)
          for (int32_t kb : sets[m])
            for (int i = m * kBlock; i < std::min(L, (m + 1) * kBlock); ++i)
              n += std::max(0, std::min(i + 1, std::min(L, (kb + 1) * kBlock)) - kb * kBlock);
        return n;
      };
      ref_nnz = count(theirs);
      forced_nnz = count(forced);
      HeadPattern hp;
      hp.kind = "block_sparse";
      hp.seq = L;
      hp.block = kBlock;
      hp.key_blocks = got;
      hp.prepare();
      const int64_t nnz = plan_nnz(hp);
      EXPECT_EQ(nnz, forced_nnz) << where;
      rows.push_back({{"case", where + " (scored, default)"},
                      {"inputs", planted_text(h.fact->at("planted"))},
                      {"attnsim", std::to_string(nb - rows_diff_scored) + " of " + std::to_string(nb) + " row blocks identical"},
                      {"reference", "their key_blocks"},
                      {"difference", rows_diff_scored == 0 ? "identical" : "MISMATCH"},
                      {"parameter", "block_sparse_diagonal=scored"}});
      std::ostringstream a, r, d;
      int64_t kb_a = 0, kb_r = 0;
      for (int m = 0; m < nb; ++m) kb_a += got[m].size(), kb_r += theirs[m].size();
      a << kb_a << " key blocks, nnz " << nnz;
      r << kb_r << " key blocks, nnz " << ref_nnz << " (their sets; diagonal-forced derivation: nnz " << forced_nnz
        << ")";
      if (rows_diff_forced == 0 && without.empty())
        d << "identical";
      else if (rows_diff_forced == 0)
        d << "identical to key_blocks_diagonal_forced; vs theirs " << without.size() << " of " << nb
          << " row blocks differ (one block each: their lowest-scored block -> the diagonal block, a causal "
             "triangle), nnz "
          << (nnz - ref_nnz >= 0 ? "+" : "") << (nnz - ref_nnz);
      else
        d << rows_diff_forced << " row blocks differ from key_blocks_diagonal_forced";
      rows.push_back({{"case", where},
                      {"inputs", planted_text(h.fact->at("planted"))},
                      {"attnsim", a.str()},
                      {"reference", r.str()},
                      {"difference", d.str()},
                      {"parameter", "block_sparse_diagonal=forced; row blocks without "
                                    "diagonal in theirs: " + bs.at("row_blocks_without_diagonal").dump()}});
    }
  }
  write_table("block_sparse", "block_sparse_flash_attention.block_sparse_attention, _build_block_index",
              {"attnsim: pick_block_sparse(pooled_block_scores(q, k, 0.125, 64), top_k); MInference pools without "
               "the 1/8 scale (an exact power of two: the same order).",
               "block_sparse_diagonal = scored (default) takes MInference's plain top-k of the causal pooled scores: " +
                   std::to_string(identical_scored) + " of " + std::to_string(configs) +
                   " configurations identical to MInference's sets. forced (attnsim's first rule) keeps the diagonal "
                   "block in every row block; key_blocks_diagonal_forced is the facts' derivation of it from the same "
                   "scores.",
               std::to_string(identical_forced) + " of " + std::to_string(configs) +
                   " configurations identical to key_blocks_diagonal_forced; " + std::to_string(rows_without_diag) +
                   " row blocks (all configurations) where MInference's own set lacks the diagonal block and differs "
                   "from attnsim's by exactly that one block."},
              rows);
}

// 4. A-shape: granularity exact is MInference's streaming kernel's element rule.
TEST(MinferenceReference, AShapeElementExact) {
  struct Cfg {
    int seq, n_init, n_local;
    const char* why;
  };
  const std::vector<Cfg> cfgs = {
      {4096, 128, 3968, "MInference's stream_llm defaults (n_init 128, n_local 3968): n_init + n_local = seq, every causal entry"},
      {1024, 8, 64, "small"},
      {1024, 30, 200, "facts kernel_checks (their streaming_forward run)"},
      {1024, 100, 333, "facts kernel_checks (their streaming_forward run)"},
      {2048, 64, 1024, "attnsim static defaults (n_init 64, n_local 1024)"},
  };
  std::map<std::pair<int, int>, json> kc;  // (n_init, n_local) -> kernel check at seq 1024
  for (const auto& c : facts().at("kernel_checks"))
    if (c.contains("n_init")) {
      kc[{c.at("n_init").get<int>(), c.at("n_local").get<int>()}] = c;
      // The facts state their kernel agrees with the element rule (fp16) and not with the block rule.
      EXPECT_LT(c.at("max_abs_err_vs_element_rule").get<double>(), 1e-2);
      EXPECT_GT(c.at("max_abs_err_vs_block_granular").get<double>(), 1e-2);
    }
  json rows = json::array();
  std::vector<int32_t> keys, keys_det, want;
  for (const auto& c : cfgs) {
    const int L = c.seq;
    StaticPatternParams sp;
    sp.pattern = "a_shape";
    sp.n_init = c.n_init;
    sp.n_local = c.n_local;
    sp.block = kBlock;
    sp.block_granular = false;
    const MaskPlan exact = static_plan(sp, L, 0, 1, nullptr);
    sp.block_granular = true;
    const MaskPlan blockp = static_plan(sp, L, 0, 1, nullptr);
    // The detector's A-shape (a pattern-file choice: sizes fixed), exact granularity.
    DetectorParams dp;
    dp.block_granular = false;
    const json fixed = {{"pattern", "a_shape"}, {"n_init", c.n_init}, {"n_local", c.n_local}};
    const MatF z = MatF::Zero(L, kHeadDim);
    const HeadDetection det = detect_head(z, z, kScale, nullptr, dp, &fixed);
    ASSERT_EQ(det.plan.by_query.size(), 1u);
    EXPECT_EQ(det.plan.by_query[0].kind, "a_shape");
    EXPECT_EQ(det.plan.by_query[0].n_init, c.n_init);
    EXPECT_EQ(det.plan.by_query[0].n_local, c.n_local);

    int64_t nnz_rule = 0, nnz_exact = 0, nnz_block = 0, rows_bad = 0, rows_bad_det = 0, block_missing = 0;
    for (int i = 0; i < L; ++i) {
      want.clear();
      for (int j = 0; j <= i; ++j)
        if ((i - j < c.n_local) || (j < c.n_init)) want.push_back(j);  // (0 <= i-j < n_local) or (j < n_init, j <= i)
      nnz_rule += static_cast<int64_t>(want.size());
      exact.row_keys(i, keys);
      nnz_exact += static_cast<int64_t>(keys.size());
      if (keys != want) ++rows_bad;
      det.plan.row_keys(i, keys_det);
      if (keys_det != want) ++rows_bad_det;
      blockp.row_keys(i, keys);
      nnz_block += static_cast<int64_t>(keys.size());
      // block granularity is a superset of the rule's entries
      block_missing += static_cast<int64_t>(want.size()) -
                       static_cast<int64_t>(std::count_if(want.begin(), want.end(), [&](int32_t j) {
                         return std::binary_search(keys.begin(), keys.end(), j);
                       }));
    }
    const std::string where = "seq " + std::to_string(L) + " n_init " + std::to_string(c.n_init) + " n_local " +
                              std::to_string(c.n_local);
    EXPECT_EQ(rows_bad, 0) << where << ": static a_shape (exact) rows differing from the rule";
    EXPECT_EQ(rows_bad_det, 0) << where << ": detector a_shape (exact) rows differing from the rule";
    EXPECT_EQ(nnz_exact, nnz_rule) << where;
    EXPECT_EQ(block_missing, 0) << where << ": block granularity misses rule entries";
    const double causal = double(L) * (L + 1) / 2;
    std::ostringstream ref;
    ref << "element rule (0 <= i - j < n_local) or (j < n_init and j <= i): nnz " << nnz_rule << ", density "
        << nnz_rule / causal;
    json note_kc = nullptr;
    if (L == 1024 && kc.count({c.n_init, c.n_local})) {
      const json& k = kc.at({c.n_init, c.n_local});
      EXPECT_EQ(nnz_rule, k.at("nnz_element_rule").get<int64_t>()) << where;
      EXPECT_EQ(nnz_block, k.at("nnz_block_granular").get<int64_t>()) << where;
      ref << " (facts nnz_element_rule " << k.at("nnz_element_rule").get<int64_t>() << "; their kernel vs the rule "
          << k.at("max_abs_err_vs_element_rule").get<double>() << ", vs attnsim's block granularity "
          << k.at("max_abs_err_vs_block_granular").get<double>() << ")";
    }
    std::ostringstream diff, att;
    diff << (rows_bad == 0 && rows_bad_det == 0 ? "identical" : std::to_string(rows_bad) + " rows differ")
         << " (granularity exact, all " << L << " rows); granularity block keeps " << (nnz_block - nnz_rule)
         << " extra entries (density " << nnz_block / causal << " vs " << nnz_rule / causal << ", +"
         << 100.0 * (nnz_block - nnz_rule) / nnz_rule << " %)";
    att << "static_plan a_shape exact: nnz " << nnz_exact << ", density " << nnz_exact / causal
        << "; detector a_shape (fixed, exact) rows equal; block granularity nnz " << nnz_block;
    rows.push_back({{"case", where},
                    {"inputs", std::string("pattern only (") + c.why + ")"},
                    {"attnsim", att.str()},
                    {"reference", ref.str()},
                    {"difference", diff.str()},
                    {"parameter", "granularity=exact (and block for the extra entries)"}});
  }
  write_table("a_shape", "streaming_kernel.streaming_forward (stream_llm dispatch of minference_prefill_kernel)",
              {"MInference's A-shape kernel (streaming_forward) computes the element rule (0 <= i - j < n_local) or "
               "(j < n_init and j <= i): the facts' kernel_checks run it in Triton's CPU interpreter against that rule "
               "(fp16 error ~3e-4) and against attnsim's block-granular set (error 0.05-0.15, not the same).",
               "attnsim's A-shape with granularity exact (static_plan, and the detector with a pattern-file choice) "
               "keeps exactly the rule's entries on every row; granularity block (the detector's default) keeps whole "
               "64-key blocks from each range start, a superset."},
              rows);
}
