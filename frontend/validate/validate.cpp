#include "validate/validate.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "kernels/number_format.h"
#include "kernels/softmax.h"
#include "util/error.h"
#include "util/json_reader.h"
#include "util/npy.h"
#include "validate/checks.h"

namespace attnsim {

namespace fs = std::filesystem;
using namespace validation;

namespace {

constexpr double kThresholdBand = 1e-6;      // mask flips allowed within this relative distance of T

// Per-head CSR masks of a dump.
struct Masks {
  Array indptr, indices, offsets;
  int64_t heads = 0, rows = 0;
  int64_t begin(int64_t h, int64_t r) const { return static_cast<int64_t>(offsets.v[h] + indptr.v[h * (rows + 1) + r]); }
  int64_t end(int64_t h, int64_t r) const { return static_cast<int64_t>(offsets.v[h] + indptr.v[h * (rows + 1) + r + 1]); }
};

Masks load_masks(const std::string& dir, int64_t layers, int64_t groups, int64_t seq) {
  Masks m;
  m.heads = layers * groups;
  m.rows = seq;
  m.indptr = load(dir, "mask_indptr");
  m.indices = load(dir, "mask_indices");
  m.offsets = load(dir, "mask_offsets");
  expect_shape(m.indptr, {layers, groups, seq + 1}, dir, "mask_indptr");
  expect_shape(m.offsets, {m.heads + 1}, dir, "mask_offsets");
  // Every index is checked before any is used to address another array.
  auto bad = [&](const char* name, int64_t at, const std::string& what) {
    throw InputError(dir + "/" + name + ".npy", "element " + std::to_string(at), what);
  };
  const int64_t nnz = static_cast<int64_t>(m.indices.v.size());
  for (int64_t h = 0; h <= m.heads; ++h) {
    const double o = m.offsets.v[h];
    if (o != std::floor(o) || o < 0 || o > static_cast<double>(nnz) || (h > 0 && o < m.offsets.v[h - 1]))
      bad("mask_offsets", h, "offset " + fmt(o) + " is not a non-decreasing position within the " +
                                 std::to_string(nnz) + " entries of mask_indices");
  }
  if (m.offsets.v.front() != 0 || static_cast<int64_t>(m.offsets.v.back()) != nnz)
    throw InputError(dir + "/mask_indices.npy", "shape", "holds " + std::to_string(nnz) +
                                                            " entries, mask_offsets says " +
                                                            std::to_string(static_cast<int64_t>(m.offsets.v.back())));
  for (int64_t h = 0; h < m.heads; ++h) {
    const double head_nnz = m.offsets.v[h + 1] - m.offsets.v[h];
    for (int64_t r = 0; r <= seq; ++r) {
      const int64_t at = h * (seq + 1) + r;
      const double p = m.indptr.v[at];
      if (p != std::floor(p) || p < 0 || p > head_nnz || (r == 0 && p != 0) || (r > 0 && p < m.indptr.v[at - 1]) ||
          (r == seq && p != head_nnz))
        bad("mask_indptr", at, "row pointer " + fmt(p) + " is not a non-decreasing position from 0 to the head's " +
                                   fmt(head_nnz) + " entries (mask_offsets)");
    }
    for (int64_t r = 0; r < seq; ++r)
      for (int64_t t = m.begin(h, r); t < m.end(h, r); ++t) {
        const double c = m.indices.v[t];
        if (c != std::floor(c) || c < 0 || c >= static_cast<double>(seq) || (t > m.begin(h, r) && c <= m.indices.v[t - 1]))
          bad("mask_indices", t, "column " + fmt(c) + " is not an increasing column index below seq_len " +
                                     std::to_string(seq) + " within its row");
      }
  }
  return m;
}

// Error bounds of the fixed-point datapath against the exact path, first
// order, per row from the simulator's own scores (docs/validation.md):
//   B_s     = scale·(lsb/2)·(max‖q‖₁ + max‖k‖₁ + d·lsb/2) + lsb/2   (scores)
//   δ_j     = e^{2 B_s}·(1 + ε_exp(s_j − max s)) − 1                (each exp)
//   |Δp_j|  ≤ p_j·(δ_j + Σ_i p_i δ_i) + lsb_p                       (probs)
//   |Δo|    ≤ max|v|·(2 Σ_j p_j δ_j + n·lsb_p) + lsb                 (output)
struct Bounds {
  double scores = 0, probs = 0, output = 0;
};

Bounds fixed_point_bounds(const std::string& sim_dir, const nlohmann::json& params, int64_t dim, const Masks& m) {
  const NumberFormat data = NumberFormat::parse(params.at("number_format").get<std::string>());
  const NumberFormat prob = NumberFormat::parse(params.at("prob_format").get<std::string>());
  const ExpUnit exp = ExpUnit::parse(params.at("exp").get<std::string>());
  const double scale = params.at("scale").get<double>();
  const Array q = load(sim_dir, "q"), k = load(sim_dir, "k"), v = load(sim_dir, "v");
  const Array scores = load(sim_dir, "scores"), probs = load(sim_dir, "probs");
  auto row_l1 = [&](const Array& a, double& best, double& maxabs) {
    for (size_t r = 0; r * dim < a.v.size(); ++r) {
      double s = 0;
      for (int64_t c = 0; c < dim; ++c) {
        s += std::abs(a.v[r * dim + c]);
        maxabs = std::max(maxabs, std::abs(a.v[r * dim + c]));
      }
      best = std::max(best, s);
    }
  };
  double q_l1 = 0, k_l1 = 0, qk_max = 0, v_max = 0;
  row_l1(q, q_l1, qk_max);
  row_l1(k, k_l1, qk_max);
  for (double x : v.v) v_max = std::max(v_max, std::abs(x));
  // Input rounding: half an LSB (fp32: a relative 2^-24 of the largest value).
  const double lsb = data.is_fixed() ? data.lsb() : std::ldexp(qk_max, -23);
  const double lsb_p = prob.is_fixed() ? prob.lsb() : std::ldexp(1.0, -23);
  // SpAtten's first pass uses K with its low bits truncated (the same keys on
  // both sides): its L1 norm grows by up to one truncation step per element.
  if (params.contains("msb_bits") && data.is_fixed()) {
    const int dropped = std::max(0, data.width - params.at("msb_bits").get<int>());
    k_l1 += static_cast<double>(dim) * data.lsb() * std::ldexp(1.0, dropped);
  }
  Bounds b;
  b.scores = scale * (lsb / 2) * (q_l1 + k_l1 + dim * lsb / 2) + lsb / 2;
  const double shift = std::exp(2 * b.scores);
  std::vector<double> delta;
  for (int64_t h = 0; h < m.heads; ++h)
    for (int64_t r = 0; r < m.rows; ++r) {
      const int64_t a = m.begin(h, r), e = m.end(h, r);
      if (a == e) continue;
      double top = -INFINITY, mean_delta = 0;
      for (int64_t t = a; t < e; ++t) top = std::max(top, scores.v[t]);
      delta.assign(e - a, 0);
      for (int64_t t = a; t < e; ++t) {
        const double x = scores.v[t] - top;
        delta[t - a] = shift * (1 + std::abs(exp(x) / std::exp(x) - 1)) - 1;
        mean_delta += probs.v[t] * delta[t - a];
      }
      for (int64_t t = a; t < e; ++t)
        b.probs = std::max(b.probs, probs.v[t] * (delta[t - a] + mean_delta) + lsb_p);
      b.output = std::max(b.output, v_max * (2 * mean_delta + static_cast<double>(e - a) * lsb_p) + lsb);
    }
  return b;
}

}  // namespace

bool Validation::pass() const {
  for (const auto& c : checks)
    if (!c.pass) return false;
  return true;
}

nlohmann::json Validation::to_json() const {
  nlohmann::json j;
  j["format"] = "attnsim-validate";
  j["algorithm"] = algorithm;
  j["exact_path"] = exact_path;
  j["pass"] = pass();
  j["mask"] = {{"entries", mask_entries},
               {"differences", mask_differences},
               {"near_threshold", near_threshold},
               {"rows_excluded_from_value_checks", rows_excluded}};
  for (const auto& c : checks)
    j["tensors"].push_back({{"name", c.name},
                            {"shape", c.shape},
                            {"compared", c.compared},
                            {"max_abs_error", c.max_abs_error},
                            {"max_rel_error", c.max_rel_error},
                            {"tolerance", c.tolerance},
                            {"mask", c.mask},
                            {"pass", c.pass}});
  if (!details.empty()) j["details"] = details;
  return j;
}

std::string Validation::table() const {
  std::vector<std::vector<std::string>> rows = {
      {"tensor", "shape", "compared", "max abs err", "max err/max|ref|", "tolerance", "mask agreement", "status"}};
  for (const auto& c : checks)
    rows.push_back({c.name, c.shape, std::to_string(c.compared), fmt(c.max_abs_error), fmt(c.max_rel_error),
                    c.tolerance, c.mask.empty() ? "-" : c.mask, c.pass ? "ok" : "FAIL"});
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  std::ostringstream out;
  for (size_t k = 0; k < rows.size(); ++k) {
    for (size_t i = 0; i < rows[k].size(); ++i) out << (i ? "  " : "") << std::left << std::setw(static_cast<int>(w[i])) << rows[k][i];
    out << "\n";
    if (k == 0) {
      size_t total = 0;
      for (auto x : w) total += x + 2;
      out << std::string(total - 2, '-') << "\n";
    }
  }
  out << (pass() ? "PASS" : "FAIL") << ": " << algorithm << (exact_path ? " (fp32 exact path)" : " (fixed-point datapath vs GPU exact path)");
  if (mask_entries)
    out << "; mask " << mask_differences << " of " << mask_entries << " entries differ, " << near_threshold
        << " of them within " << kThresholdBand << " (relative) of the threshold";
  out << "; " << rows_excluded << " rows left out of the value checks\n";
  for (const auto& n : notes) out << "  " << n << "\n";
  return out.str();
}

namespace {
Validation compare_dirs(const std::string& sim_dir, const std::string& gpu_dir) {
  const std::string sim_meta_path = sim_dir + "/meta.json", gpu_meta_path = gpu_dir + "/meta.json";
  const nlohmann::json sim = JsonReader::load_file(sim_meta_path);
  const nlohmann::json gpu = JsonReader::load_file(gpu_meta_path);
  if (sim.value("format", "") != "attnsim-dump")
    throw InputError(sim_meta_path, "format", "not an attnsim dump (expected \"attnsim-dump\")");
  if (gpu.value("format", "") != "attnsim-gpu" || !gpu.contains("dump_meta"))
    throw InputError(gpu_meta_path, "format", "not a gpu_ref output (expected \"attnsim-gpu\" with dump_meta)");
  const nlohmann::json& ref = gpu["dump_meta"];
  auto same = [&](const char* key) {
    if (sim.value(key, nlohmann::json()) != ref.value(key, nlohmann::json()))
      throw InputError(gpu_meta_path, std::string("dump_meta.") + key,
                       "is " + ref.value(key, nlohmann::json()).dump() + " but " + sim_meta_path + " has " +
                           sim.value(key, nlohmann::json()).dump() + " (different runs)");
  };
  for (const char* key : {"algorithm", "workload", "layers", "groups", "seq_len", "head_dim", "params"}) same(key);

  // The shapes address every tensor: read with ranges (the tensors' own shapes are checked against them).
  JsonReader meta(sim, sim_meta_path);
  constexpr int64_t kMaxDim = int64_t{1} << 31;
  Validation out;
  out.algorithm = meta.string("algorithm", std::nullopt);
  const int64_t L = meta.integer("layers", std::nullopt, 1, kMaxDim), G = meta.integer("groups", std::nullopt, 1, kMaxDim),
                S = meta.integer("seq_len", std::nullopt, 1, kMaxDim), D = meta.integer("head_dim", std::nullopt, 1, kMaxDim);
  JsonReader param_reader = meta.object("params");
  const auto& params = sim["params"];
  out.exact_path = param_reader.string("number_format", std::nullopt) == "fp32" &&
                   param_reader.string("prob_format", std::nullopt) == "fp32" &&
                   param_reader.string("exp", std::nullopt) == "exact";

  // Quantisation: integers must match exactly.
  for (const char* name : {"q_quant", "k_quant", "quant_scales"}) {
    if (!has(gpu_dir, name)) continue;
    const Array a = load(sim_dir, name), b = load(gpu_dir, name);
    expect_shape(b, a.shape, gpu_dir, name);
    ErrorAccumulator e;
    for (size_t i = 0; i < a.v.size(); ++i) e.add(a.v[i], b.v[i]);
    TensorCheck c = e.check(name, shape_str(a.shape));
    const bool scales = std::string(name) == "quant_scales";
    c.tolerance = scales ? "rel 1e-6" : "exact";
    c.pass = scales ? c.max_rel_error <= 1e-6 : c.max_abs_error == 0;
    out.checks.push_back(c);
  }

  const Masks ms = load_masks(sim_dir, L, G, S);
  Bounds bounds;
  if (!out.exact_path) bounds = fixed_point_bounds(sim_dir, params, D, ms);

  // Algorithm-specific decisions (pruning, pattern choice): rows they make
  // incomparable are left out of the mask and value checks below.
  std::vector<char> row_ok(static_cast<size_t>(L * G * S), 1);
  RunShape run;
  run.sim_dir = sim_dir;
  run.gpu_dir = gpu_dir;
  run.params = params;
  run.layers = L, run.groups = G, run.seq = S, run.dim = D;
  run.batch = sim.value("batch", int64_t{1});
  run.heads = sim.value("heads", G);
  run.exact_path = out.exact_path;
  run.prob_bound = bounds.probs;
  run.output_bound = bounds.output;
  // A GPU output without masks (a compact golden) skips the mask comparison below.
  const bool have_masks = has(gpu_dir, "mask_indptr");
  Masks mg;
  if (have_masks) mg = load_masks(gpu_dir, L, G, S);
  auto row_nnz = [&](const Masks& m) {
    std::vector<int64_t> n(static_cast<size_t>(L * G * S));
    for (int64_t h = 0; h < L * G; ++h)
      for (int64_t r = 0; r < S; ++r) n[h * S + r] = m.end(h, r) - m.begin(h, r);
    return n;
  };
  run.sim_row_nnz = row_nnz(ms);
  run.gpu_row_nnz = have_masks ? row_nnz(mg) : run.sim_row_nnz;
  if (out.algorithm == "spatten_pruner") check_pruning(run, out, row_ok);
  if (out.algorithm == "pattern_detector") check_patterns(run, out, row_ok);
  int64_t rows_decided = 0;
  for (char ok : row_ok) rows_decided += !ok;

  // Masks: identical but for entries whose predicted probability lies within
  // kThresholdBand of the threshold (Sanger); such rows are left out of value
  // checks.
  if (have_masks) {
    Array pred;
    const bool with_pred = has(sim_dir, "pred_probs");
    if (with_pred) {
      pred = load(sim_dir, "pred_probs");
      expect_shape(pred, {L, G, S, S}, sim_dir, "pred_probs");
    }
    const double T = params.value("threshold", 0.0);
    for (int64_t h = 0; h < L * G; ++h)
      for (int64_t r = 0; r < S; ++r) {
        if (!row_ok[h * S + r]) continue;
        int64_t a = ms.begin(h, r), ae = ms.end(h, r), b = mg.begin(h, r), be = mg.end(h, r);
        out.mask_entries += ae - a;
        bool differs = false;
        while (a < ae || b < be) {
          int64_t col;
          if (b >= be || (a < ae && ms.indices.v[a] < mg.indices.v[b])) col = static_cast<int64_t>(ms.indices.v[a++]);
          else if (a >= ae || mg.indices.v[b] < ms.indices.v[a]) col = static_cast<int64_t>(mg.indices.v[b++]);
          else { ++a, ++b; continue; }
          differs = true;
          ++out.mask_differences;
          if (with_pred && T > 0 && std::abs(pred.v[(h * S + r) * S + col] - T) <= kThresholdBand * T) ++out.near_threshold;
        }
        if (differs) row_ok[h * S + r] = 0, ++out.rows_excluded;
      }
    TensorCheck c;
    c.name = "mask";
    c.shape = "CSR nnz " + std::to_string(out.mask_entries);
    c.compared = out.mask_entries;
    c.tolerance = with_pred ? "flips only within " + fmt(kThresholdBand) + " of T" : "identical";
    c.mask = fmt(out.mask_entries ? 1.0 - static_cast<double>(out.mask_differences) / out.mask_entries : 1.0) +
             " (" + std::to_string(out.mask_differences) + " differ, " + std::to_string(out.near_threshold) + " near T)";
    c.pass = out.mask_differences == out.near_threshold;
    out.checks.push_back(c);
  }
  out.rows_excluded += rows_decided;

  auto finish = [&](TensorCheck c, double bound) {
    if (out.exact_path) {
      c.tolerance = "rel " + fmt(kExactRelTolerance);
      c.pass = c.max_rel_error <= kExactRelTolerance;
    } else {
      c.tolerance = "abs " + fmt(bound) + " (fixed-point bound)";
      c.pass = c.max_abs_error <= bound;
    }
    out.checks.push_back(c);
  };

  // CSR values on rows whose masks agree (entries then align one to one).
  for (const char* name : {"scores", "probs"}) {
    if (!has(gpu_dir, name) || !have_masks) continue;
    const Array a = load(sim_dir, name), b = load(gpu_dir, name);
    expect_shape(a, {static_cast<int64_t>(ms.indices.v.size())}, sim_dir, name);
    expect_shape(b, {static_cast<int64_t>(mg.indices.v.size())}, gpu_dir, name);
    ErrorAccumulator e;
    for (int64_t h = 0; h < L * G; ++h)
      for (int64_t r = 0; r < S; ++r) {
        if (!row_ok[h * S + r]) continue;
        for (int64_t x = ms.begin(h, r), y = mg.begin(h, r); x < ms.end(h, r); ++x, ++y) e.add(a.v[x], b.v[y]);
      }
    finish(e.check(name, "[" + std::to_string(ms.indices.v.size()) + "]"),
           std::string(name) == "scores" ? bounds.scores : bounds.probs);
  }

  if (has(gpu_dir, "output")) {
    const Array a = load(sim_dir, "output"), b = load(gpu_dir, "output");
    expect_shape(a, {L, G, S, D}, sim_dir, "output");
    expect_shape(b, {L, G, S, D}, gpu_dir, "output");
    ErrorAccumulator e;
    for (int64_t row = 0; row < L * G * S; ++row) {
      if (!row_ok[row]) continue;
      for (int64_t c = 0; c < D; ++c) e.add(a.v[row * D + c], b.v[row * D + c]);
    }
    finish(e.check("output", shape_str(a.shape)), bounds.output);
  } else {
    throw InputError(gpu_dir + "/output.npy", "", "missing tensor 'output'");
  }
  return out;
}
}  // namespace

Validation validate_dirs(const std::string& sim_dir, const std::string& gpu_dir) {
  try {
    return compare_dirs(sim_dir, gpu_dir);
  } catch (const nlohmann::json::exception& e) {
    // A field of meta.json or heads.json (either side) missing or of the wrong type.
    throw InputError(sim_dir + " vs " + gpu_dir, "meta.json / heads.json", std::string("malformed: ") + e.what());
  }
}

namespace validation {

bool has(const std::string& dir, const std::string& name) { return fs::exists(dir + "/" + name + ".npy"); }

Array load(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name + ".npy";
  if (!fs::exists(path)) throw InputError(path, "", "missing tensor '" + name + "'");
  NpyHeader h;
  Array a;
  a.v = read_npy_doubles(path, &h);
  a.shape = h.shape;
  // No rule lets a NaN or Inf on both sides pass: validation compares finite values only.
  for (size_t i = 0; i < a.v.size(); ++i)
    if (!std::isfinite(a.v[i]))
      throw InputError(path, "element " + std::to_string(i),
                       std::string(std::isnan(a.v[i]) ? "NaN" : "Inf") + " (validate compares finite values only)");
  return a;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

void expect_shape(const Array& a, const std::vector<int64_t>& want, const std::string& dir, const std::string& name) {
  if (a.shape != want)
    throw InputError(dir + "/" + name + ".npy", "shape", "is " + shape_str(a.shape) + ", expected " + shape_str(want));
}

std::string fmt(double x) {
  std::ostringstream s;
  s << std::setprecision(3) << x;
  return s.str();
}

TensorCheck ErrorAccumulator::check(const std::string& name, const std::string& shape) const {
  TensorCheck c;
  c.name = name;
  c.shape = shape;
  c.compared = n;
  c.max_abs_error = max_abs;
  c.max_rel_error = max_ref > 0 ? max_abs / max_ref : max_abs;
  return c;
}

}  // namespace validation

}  // namespace attnsim
