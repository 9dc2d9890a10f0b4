// SpAtten's pruning decisions against the GPU's (docs/validation.md, "SpAtten").
#include <algorithm>
#include <cmath>

#include "kernels/number_format.h"
#include "validate/checks.h"

namespace attnsim::validation {

namespace {

// One kept set (tokens of a batch element, or heads) at one layer: the
// entries whose kept flag differs, and whether each is a near-tie, i.e. its
// importance (the simulator's) lies within abs_band + rel_band·|cut| of the
// cut (the smallest importance the simulator kept).
struct SetDiff {
  int64_t flips = 0, near = 0;
};
SetDiff compare_set(const Array& sim_alive, const Array& gpu_alive, const Array& importance, int64_t at, int64_t n,
                    double abs_band, double rel_band) {
  SetDiff d;
  double cut = INFINITY;
  for (int64_t x = 0; x < n; ++x)
    if (sim_alive.v[at + x] != 0) cut = std::min(cut, importance.v[at + x]);
  for (int64_t x = 0; x < n; ++x) {
    if ((sim_alive.v[at + x] != 0) == (gpu_alive.v[at + x] != 0)) continue;
    ++d.flips;
    if (std::abs(importance.v[at + x] - cut) <= abs_band + rel_band * std::abs(cut)) ++d.near;
  }
  return d;
}

TensorCheck set_check(const std::string& name, int64_t compared, const SetDiff& d, const std::string& band) {
  TensorCheck c;
  c.name = name;
  c.shape = "kept flags";
  c.compared = compared;
  c.tolerance = "flips only at near-ties (" + band + ")";
  c.mask = std::to_string(d.flips) + " differ, " + std::to_string(d.near) + " near ties";
  c.pass = d.flips == d.near;
  return c;
}

}  // namespace

void check_pruning(const RunShape& run, Validation& out, std::vector<char>& row_ok) {
  const int64_t L = run.layers, G = run.groups, B = run.batch, H = run.heads, S = run.seq;
  auto pair = [&](const char* name, std::vector<int64_t> shape) {
    std::pair<Array, Array> p{load(run.sim_dir, name), load(run.gpu_dir, name)};
    expect_shape(p.first, shape, run.sim_dir, name);
    expect_shape(p.second, shape, run.gpu_dir, name);
    return p;
  };
  // Named references, not structured bindings: lambdas below capture them (C++17).
  const auto tok = pair("token_alive", {L, B, S}), timp_p = pair("token_importance", {L, B, S});
  const auto head = pair("head_alive", {L, G}), himp_p = pair("head_importance", {L, G});
  const auto req = pair("row_requantised", {L, G, S}), top_p = pair("row_top_prob", {L, G, S});
  const Array &tok_sim = tok.first, &tok_gpu = tok.second, &timp_sim = timp_p.first, &timp_gpu = timp_p.second;
  const Array &head_sim = head.first, &head_gpu = head.second, &himp_sim = himp_p.first, &himp_gpu = himp_p.second;
  const Array &req_sim = req.first, &req_gpu = req.second, &top_sim = top_p.first, &top_gpu = top_p.second;
  const double tau = run.params.value("requant_threshold", 0.0);
  // The requantisation rule both sides implement (SpAtten §3.4; kernels/spatten.cpp,
  // gpu_ref spatten.cu): a row is recomputed with full keys iff its first pass
  // used MSB-only keys, it keeps at least one entry, and its largest probability p < tau.
  bool msb_pass = false;
  if (run.params.contains("msb_bits")) {
    const NumberFormat data = NumberFormat::parse(run.params.at("number_format").get<std::string>());
    msb_pass = data.is_fixed() && data.width > run.params.at("msb_bits").get<int>();
  }
  auto rule = [&](double top, int64_t nnz) { return msb_pass && nnz > 0 && top < tau; };

  // Importance at layer l sums the probabilities (tokens) and |outputs|
  // (heads) of layers 0..l-1. Tolerance: exact path 1e-4 of the layer's
  // largest value; fixed point the per-entry bounds times the entries summed.
  auto token_tolerance = [&](int64_t l) {
    if (!run.exact_path) return static_cast<double>(l * H * S) * run.prob_bound;
    double m = 0;
    for (int64_t x = l * B * S; x < (l + 1) * B * S; ++x) m = std::max(m, std::abs(timp_sim.v[x]));
    return kExactRelTolerance * m;
  };
  auto head_tolerance = [&](int64_t l) {
    if (!run.exact_path) return static_cast<double>(l * S * run.dim) * run.output_bound;
    double m = 0;
    for (int64_t x = l * G; x < (l + 1) * G; ++x) m = std::max(m, std::abs(himp_sim.v[x]));
    return kExactRelTolerance * m;
  };

  std::vector<char> diverged(B, 0);
  SetDiff tokens, heads;
  ErrorAccumulator timp, himp, top;
  bool timp_ok = true, himp_ok = true;
  int64_t tokens_compared = 0, heads_compared = 0, rows_compared = 0, requant_flips = 0, requant_wrong = 0;
  nlohmann::json divergence = nlohmann::json::array();
  for (int64_t l = 0; l < L; ++l) {
    const double ttol = token_tolerance(l), htol = head_tolerance(l);
    for (int64_t b = 0; b < B; ++b) {
      if (!diverged[b]) {  // the importance this layer decided on comes from identical earlier kept sets
        for (int64_t t = 0; t < S; ++t) {
          const int64_t x = (l * B + b) * S + t;
          timp.add(timp_sim.v[x], timp_gpu.v[x]);
          timp_ok = timp_ok && std::abs(timp_sim.v[x] - timp_gpu.v[x]) <= ttol;
        }
        for (int64_t h = 0; h < H; ++h) {
          const int64_t x = l * G + b * H + h;
          himp.add(himp_sim.v[x], himp_gpu.v[x]);
          himp_ok = himp_ok && std::abs(himp_sim.v[x] - himp_gpu.v[x]) <= htol;
        }
        // Exact path: importance sums carry errors relative to themselves; fixed point: the absolute bound.
        const double rel = run.exact_path ? kExactRelTolerance : 0.0;
        const SetDiff td = compare_set(tok_sim, tok_gpu, timp_sim, (l * B + b) * S, S, run.exact_path ? 0 : ttol, rel);
        const SetDiff hd = compare_set(head_sim, head_gpu, himp_sim, l * G + b * H, H, run.exact_path ? 0 : htol, rel);
        tokens.flips += td.flips, tokens.near += td.near, heads.flips += hd.flips, heads.near += hd.near;
        tokens_compared += S;
        heads_compared += H;
        if (td.flips || hd.flips) {  // from here on this batch element computes other rows
          diverged[b] = 1;
          divergence.push_back({{"batch", b}, {"layer", l}, {"token_flips", td.flips}, {"head_flips", hd.flips}});
        }
      }
      for (int64_t h = 0; h < H; ++h) {
        const int64_t g = b * H + h, row0 = (l * G + g) * S;
        for (int64_t i = 0; i < S; ++i) {
          if (diverged[b]) {
            row_ok[row0 + i] = 0;
            continue;
          }
          if (tok_sim.v[(l * B + b) * S + i] == 0 || head_sim.v[l * G + g] == 0) continue;  // pruned: no output
          ++rows_compared;
          top.add(top_sim.v[row0 + i], top_gpu.v[row0 + i]);
          // Each side's decision must follow from its own max p; the sides may
          // then differ only where their max p lie on either side of tau.
          requant_wrong += (req_sim.v[row0 + i] != 0) != rule(top_sim.v[row0 + i], run.sim_row_nnz[row0 + i]);
          requant_wrong += (req_gpu.v[row0 + i] != 0) != rule(top_gpu.v[row0 + i], run.gpu_row_nnz[row0 + i]);
          if (req_sim.v[row0 + i] != req_gpu.v[row0 + i]) {
            ++requant_flips;
            row_ok[row0 + i] = 0;
          }
        }
      }
    }
  }
  const std::string band = run.exact_path ? "rel " + fmt(kExactRelTolerance) + " of the cut" : "importance bound";
  out.checks.push_back(set_check("kept tokens", tokens_compared, tokens, band));
  out.checks.push_back(set_check("kept heads", heads_compared, heads, band));
  auto value_check = [&](const ErrorAccumulator& e, const std::string& name, const std::string& shape, bool ok,
                         const std::string& fixed_tolerance) {
    TensorCheck c = e.check(name, shape);
    c.tolerance = run.exact_path ? "rel " + fmt(kExactRelTolerance) + " of the layer's max" : fixed_tolerance;
    c.pass = ok;
    out.checks.push_back(c);
  };
  value_check(timp, "token_importance", shape_str(timp_sim.shape), timp_ok,
              "abs l·heads·S·" + fmt(run.prob_bound) + " (probs bound)");
  value_check(himp, "head_importance", shape_str(himp_sim.shape), himp_ok,
              "abs l·S·D·" + fmt(run.output_bound) + " (output bound)");
  {
    TensorCheck c = top.check("row_top_prob", shape_str(top_sim.shape));
    c.tolerance = run.exact_path ? "rel " + fmt(kExactRelTolerance) : "abs " + fmt(run.prob_bound) + " (probs bound)";
    c.pass = run.exact_path ? c.max_rel_error <= kExactRelTolerance : c.max_abs_error <= run.prob_bound;
    out.checks.push_back(c);
    TensorCheck r;
    r.name = "requantised rows";
    r.shape = shape_str(req_sim.shape);
    r.compared = rows_compared;
    r.tolerance = "each side: requantised iff MSB pass, row kept, max p < tau";
    r.mask = std::to_string(requant_flips) + " differ, " + std::to_string(requant_wrong) + " decisions break the rule";
    r.pass = requant_wrong == 0;
    out.checks.push_back(r);
  }
  out.details["pruning"] = {{"token_flips", tokens.flips},       {"token_near_ties", tokens.near},
                            {"head_flips", heads.flips},         {"head_near_ties", heads.near},
                            {"requantised_flips", requant_flips}, {"requantised_against_rule", requant_wrong},
                            {"diverged", divergence}};
  out.notes.push_back("pruning: " + std::to_string(tokens.flips) + " kept-token and " + std::to_string(heads.flips) +
                      " kept-head flips (" + std::to_string(tokens.near + heads.near) + " near ties), " +
                      std::to_string(divergence.size()) + " batch elements diverged, " + std::to_string(requant_flips) +
                      " requantisation flips");
}

}  // namespace attnsim::validation
