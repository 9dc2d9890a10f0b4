#include "workload/multimodal.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "util/error.h"
#include "util/json_reader.h"
#include "workload/long_context.h"
#include "workload/workload.h"

namespace attnsim {

const std::vector<std::string>& multimodal_kinds() {
  static const std::vector<std::string> k{"no_boundary", "q_boundary", "k_boundary", "2d_boundary"};
  return k;
}

std::string multimodal_head_kind(const MultimodalParams& p, int batch, int layer, int head) {
  gen::Rng rng(gen::head_seed(p.seed, 0x6d6b696e64ULL, batch, layer, head));
  const double w[4] = {p.mix_no_boundary, p.mix_q_boundary, p.mix_k_boundary, p.mix_2d_boundary};
  double u = rng.uniform() * (w[0] + w[1] + w[2] + w[3]);
  for (int i = 0; i < 4; ++i) {
    if (u < w[i]) return multimodal_kinds()[i];
    u -= w[i];
  }
  for (int i = 3; i >= 0; --i)
    if (w[i] > 0) return multimodal_kinds()[i];
  return "no_boundary";
}

// Own model. Columns: [0, 16) Fejér local band, 16 sinks, 17 verticals, then
// one modality-bias column per modality, the patch-column codes, and the
// rest noise. Query-side factors per modality turn
// each structure on or off for that modality's queries.
void generate_multimodal_head(const MultimodalParams& p, const SegmentMap& segs, int dim, int batch, int layer,
                              int head, MatF& q, MatF& k, MatF& v) {
  if (dim < 32) throw std::invalid_argument("multimodal needs head_dim >= 32");
  const std::string kind = multimodal_head_kind(p, batch, layer, head);
  gen::Rng rng(gen::head_seed(p.seed, 0x6d6d6f64ULL, batch, layer, head));
  const int L = segs.seq(), M = segs.modalities();
  const int F = 8, sink_col = 2 * F, vert_col = sink_col + 1, bias0 = vert_col + 1;
  int max_w = 0;
  for (const auto& s : segs.segments())
    if (s.is_grid()) max_w = std::max(max_w, s.grid_w);
  const int avail = std::max(0, dim - bias0 - M - 4);
  const int gc = std::min(max_w, avail);
  const int col0 = bias0 + M, noise0 = col0 + gc;
  MatD qf = MatD::Zero(L, dim), kf = MatD::Zero(L, dim);

  auto grid_modality = [&](int m) { return segs.has_grid(m); };
  std::vector<double> lam_local(M, 1), lam_sink(M, 1), lam_vert(M, 1);
  std::vector<char> grid_on(M, 0);
  std::vector<std::vector<double>> bias(M, std::vector<double>(M, 0.0));
  enum { kAnywhere, kTextKeys, kImageRowStarts } vertical_keys = kAnywhere;
  for (int m = 0; m < M; ++m) {
    const bool vis = grid_modality(m);
    if (kind == "q_boundary" && vis) lam_local[m] = 0, lam_vert[m] = 0, lam_sink[m] = 0.5, grid_on[m] = 1;
    if (kind == "k_boundary") {
      for (int km = 0; km < M; ++km)
        if (grid_modality(km)) bias[m][km] = -p.suppress_strength;
      lam_local[m] = 0;  // every query attends the same text keys: sinks and text verticals
    }
    if (kind == "2d_boundary" && vis) {
      lam_local[m] = lam_sink[m] = lam_vert[m] = 0;
      grid_on[m] = 1;
      for (int km = 0; km < M; ++km)
        if (!grid_modality(km)) bias[m][km] = -p.suppress_strength;
    }
  }
  if (kind == "k_boundary") vertical_keys = kTextKeys;
  if (kind == "2d_boundary") vertical_keys = kImageRowStarts;

  // Local band (period 2L: no alias), query-side factor per modality.
  std::vector<double> local_scale(L);
  for (int t = 0; t < L; ++t) local_scale[t] = lam_local[segs.modality(t)];
  gen::fejer_features(qf, kf, 0, F, 2.0 * L, p.local_strength, &local_scale);
  // Sinks and verticals.
  for (int t = 0; t < std::min(p.sink_tokens, L); ++t) kf(t, sink_col) = p.sink_strength;
  std::vector<int> vcands;
  for (int t = p.sink_tokens; t < L; ++t) {
    const Segment& s = segs.segment(segs.segment_of(t));
    if (vertical_keys == kAnywhere || (vertical_keys == kTextKeys && !s.is_grid()) ||
        (vertical_keys == kImageRowStarts && s.is_grid() && (t - s.start) % s.grid_w == 0))
      vcands.push_back(t);
  }
  if (!vcands.empty()) {
    const int n = vertical_keys == kImageRowStarts
                      ? static_cast<int>(vcands.size())
                      : std::max(1, static_cast<int>(std::lround(p.vertical_density * vcands.size())));
    for (int c = 0; c < n; ++c) {
      const int j = vertical_keys == kImageRowStarts ? vcands[c] : vcands[rng.below(static_cast<int>(vcands.size()))];
      kf(j, vert_col) = p.vertical_strength * (0.9 + 0.2 * rng.uniform());
    }
  }
  for (int t = 0; t < L; ++t) {
    const int m = segs.modality(t);
    qf(t, sink_col) = lam_sink[m];
    qf(t, vert_col) = lam_vert[m];
    for (int km = 0; km < M; ++km) qf(t, bias0 + km) = bias[m][km];
    kf(t, bias0 + m) = 1;
  }
  // Grid: per segment, orthonormal (rotated) codes of the patch column while
  // they fit, random unit codes otherwise; queries of a grid modality carry
  // them when the head has a grid, so a patch attends the patches of its
  // column (itself included: offsets 0, W, 2W, ...). A row code as well
  // would make each patch attend mostly itself (its score would be doubled).
  const double a = std::sqrt(p.grid_strength);
  for (int si = 0; si < static_cast<int>(segs.segments().size()); ++si) {
    const Segment& s = segs.segment(si);
    if (!s.is_grid()) continue;
    auto codes = [&](int n, int dims) {
      MatD c(n, dims);
      if (n <= dims) {
        const MatD r = gen::random_rotation(dims, rng);
        c = r.topRows(n);
      } else {
        for (Eigen::Index i = 0; i < c.size(); ++i) c.data()[i] = rng.normal();
        c.rowwise().normalize();
      }
      return c;
    };
    const MatD cc = gc > 0 ? codes(s.grid_w, gc) : MatD();
    const bool on = grid_on[segs.segment_modality(si)];
    for (int t = s.start; t < s.start + s.length; ++t) {
      const int c = (t - s.start) % s.grid_w;
      for (int x = 0; x < gc; ++x) {
        kf(t, col0 + x) = a * cc(c, x);
        if (on) qf(t, col0 + x) = a * cc(c, x);
      }
    }
  }
  gen::add_noise(qf, kf, noise0, p.noise, rng);
  gen::finish_head(qf, kf, p.value_mean, rng, q, k, v);
}

void read_multimodal(JsonReader& d, int seq_len, MultimodalParams& p) {
  p.seed = static_cast<uint64_t>(d.integer("seed", 1, 0, INT64_MAX));
  const auto& arr = d.raw("segments");
  if (!arr.is_array() || arr.empty()) d.fail("segments", "expected a non-empty array of segments");
  p.segments.clear();
  int64_t total = 0;
  for (size_t i = 0; i < arr.size(); ++i) {
    JsonReader s(arr[i], d.file(), d.path_of("segments") + "[" + std::to_string(i) + "]");
    Segment seg;
    seg.kind = s.string("kind", std::nullopt);
    if (seg.kind.empty()) s.fail("kind", "must not be empty");
    if (s.has("grid")) {
      const auto& g = s.raw("grid");
      if (!g.is_array() || g.size() != 2 || !g[0].is_number_integer() || !g[1].is_number_integer() ||
          g[0].get<int64_t>() < 0 || g[1].get<int64_t>() < 0 || g[0].get<int64_t>() > 4096 ||
          g[1].get<int64_t>() > 4096)
        s.fail("grid", "expected [rows, cols] of integers 0 to 4096, got " + g.dump());
      seg.grid_h = g[0].get<int>();
      seg.grid_w = g[1].get<int>();
      seg.length = seg.grid_h * seg.grid_w;
      if (s.has("tokens") && s.integer("tokens", std::nullopt, 0, 1 << 20) != seg.length)
        s.fail("tokens", "does not match grid " + g.dump() + " (" + std::to_string(seg.length) + " tokens)");
      if (seg.length == 0) seg.grid_w = seg.grid_h = 0;
    } else {
      if (seg.kind == "vision") s.fail("grid", "a vision segment needs its patch grid [rows, cols]");
      seg.length = static_cast<int>(s.integer("tokens", std::nullopt, 0, 1 << 20));
    }
    s.finish();
    total += seg.length;
    p.segments.push_back(seg);
  }
  if (total != seq_len)
    d.fail("segments", "add up to " + std::to_string(total) + " tokens, but seq_len is " + std::to_string(seq_len));
  {
    auto m = d.object("mix");
    p.mix_no_boundary = m.number("no_boundary", p.mix_no_boundary, 0, 1e6);
    p.mix_q_boundary = m.number("q_boundary", p.mix_q_boundary, 0, 1e6);
    p.mix_k_boundary = m.number("k_boundary", p.mix_k_boundary, 0, 1e6);
    p.mix_2d_boundary = m.number("2d_boundary", p.mix_2d_boundary, 0, 1e6);
    m.finish();
    if (p.mix_no_boundary + p.mix_q_boundary + p.mix_k_boundary + p.mix_2d_boundary <= 0)
      d.fail("mix", "at least one head kind needs a weight > 0");
  }
  p.sink_tokens = static_cast<int>(d.integer("sink_tokens", p.sink_tokens, 0, seq_len));
  p.sink_strength = d.number("sink_strength", p.sink_strength, 0, 100);
  p.local_strength = d.number("local_strength", p.local_strength, 0, 100);
  p.grid_strength = d.number("grid_strength", p.grid_strength, 0, 100);
  p.vertical_density = d.number("vertical_density", p.vertical_density, 0, 1);
  p.vertical_strength = d.number("vertical_strength", p.vertical_strength, 0, 100);
  p.suppress_strength = d.number("suppress_strength", p.suppress_strength, 0, 100);
  p.noise = d.number("noise", p.noise, 0, 100);
  p.value_mean = d.number("value_mean", p.value_mean, 0, 100);
}

nlohmann::json multimodal_to_json(const MultimodalParams& p) {
  nlohmann::json segs = nlohmann::json::array();
  for (const auto& s : p.segments) {
    if (s.is_grid())
      segs.push_back({{"kind", s.kind}, {"grid", {s.grid_h, s.grid_w}}});
    else
      segs.push_back({{"kind", s.kind}, {"tokens", s.length}});
  }
  return {{"kind", "multimodal"},
          {"seed", p.seed},
          {"segments", segs},
          {"mix",
           {{"no_boundary", p.mix_no_boundary},
            {"q_boundary", p.mix_q_boundary},
            {"k_boundary", p.mix_k_boundary},
            {"2d_boundary", p.mix_2d_boundary}}},
          {"sink_tokens", p.sink_tokens},
          {"sink_strength", p.sink_strength},
          {"local_strength", p.local_strength},
          {"grid_strength", p.grid_strength},
          {"vertical_density", p.vertical_density},
          {"vertical_strength", p.vertical_strength},
          {"suppress_strength", p.suppress_strength},
          {"noise", p.noise},
          {"value_mean", p.value_mean}};
}

std::shared_ptr<const SegmentMap> workload_segments(const WorkloadSpec& w) {
  if (w.data_kind == "multimodal") return std::make_shared<const SegmentMap>(w.multimodal.segments, w.seq_len);
  return std::make_shared<const SegmentMap>(SegmentMap::single(w.seq_len));
}

}  // namespace attnsim
