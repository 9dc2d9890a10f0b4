// The DynamiQK detector's decisions against the GPU's (docs/validation.md, "DynamiQK").
#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "util/error.h"
#include "util/json_reader.h"
#include "validate/checks.h"

namespace attnsim::validation {

namespace {

// The estimation runs in fp32 on both sides: its logits carry absolute errors
// of up to ~d·u·|q||k| (u = 2^-24), so probabilities, their column / diagonal
// sums and the kept masses differ by a relative few 1e-5 (measured against
// float64 on longctx_s2k_small: 3e-5 of a set's largest sum). Own choice: 1e-3,
// a tenfold margin over two such implementations, for the estimates, the
// near-tie band of index flips, and kept masses (decisions within it may flip).
constexpr double kEstimateRel = 1e-3;
constexpr double kMassBand = 1e-3;

const nlohmann::json& head_at(const nlohmann::json& heads, size_t h, const std::string& file) {
  if (!heads.is_array() || h >= heads.size() || !heads[h].is_object() || !heads[h].contains("plan") ||
      !heads[h].contains("info") || !heads[h].contains("estimates"))
    throw InputError(file, "[" + std::to_string(h) + "]", "expected {layer, group, plan, estimates, info} per head");
  return heads[h];
}

double score(const nlohmann::json& x) {  // null: a forced entry (+inf)
  return x.is_null() ? std::numeric_limits<double>::infinity() : x.get<double>();
}

double max_finite(const nlohmann::json& a) {
  double m = 0;
  for (const auto& x : a)
    if (!x.is_null()) m = std::max(m, std::abs(x.get<double>()));
  return m;
}

// Smallest margin of the candidate search (a later candidate replaces the
// best only with more than delta more mass; the best must reach min_mass).
double choice_margin(const nlohmann::json& candidates, const nlohmann::json& order, double delta, double min_mass) {
  double margin = std::numeric_limits<double>::infinity(), best = 0;
  bool have = false;
  for (const auto& k : order) {
    if (!candidates.contains(k.get<std::string>())) continue;
    const double m = candidates[k.get<std::string>()].get<double>();
    if (have) margin = std::min(margin, std::abs(m - (best + delta)));
    if (!have || m > best + delta) best = m, have = true;
  }
  if (have) margin = std::min(margin, std::abs(best - min_mass));
  return margin;
}

// Every margin behind the head's plan: candidate searches, the Q-boundary and the skips.
double decision_margin(const nlohmann::json& info, const nlohmann::json& mu) {
  const nlohmann::json order = mu.value("candidates", nlohmann::json::array());
  const double delta = mu.value("select_delta", 0.01), min_mass = mu.value("min_mass", 0.5);
  const nlohmann::json c = info.value("candidates", nlohmann::json::object());
  double margin = std::numeric_limits<double>::infinity();
  if (c.contains("shared")) {
    margin = choice_margin(c["shared"], order, delta, min_mass);
    const nlohmann::json by_modality = c.value("by_modality", nlohmann::json::object());
    for (const auto& [m, cm] : by_modality.items())
      margin = std::min(margin, choice_margin(cm, order, delta, min_mass));
    if (info.contains("boundary_mass"))
      margin = std::min(margin, std::abs(info["boundary_mass"].value("q", 0.0) -
                                         (info["boundary_mass"].value("none", 0.0) + mu.value("boundary_delta", 0.03))));
    const nlohmann::json all_shares = info.value("modality_shares", nlohmann::json::object());
    for (const auto& [q, shares] : all_shares.items())
      for (const auto& [k, s] : shares.items()) margin = std::min(margin, std::abs(s.get<double>() - mu.value("skip_mass", 0.01)));
  } else {
    margin = choice_margin(c, order, delta, min_mass);
  }
  return margin;
}

std::vector<int> ints(const nlohmann::json& a) {
  std::vector<int> v;
  for (const auto& x : a) v.push_back(x.get<int>());
  return v;
}

std::vector<int> symmetric_difference(std::vector<int> a, std::vector<int> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<int> d;
  std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(d));
  return d;
}

// Flips of a top-k selection explained as near-ties: each differing index's
// score within a relative `band` of the cut (the smallest score the simulator
// selected; sums of positive fp32 terms carry errors relative to themselves).
struct IndexDiff {
  int64_t compared = 0, flips = 0, near = 0;
};
void compare_selection(const std::vector<int>& sim, const std::vector<int>& gpu, const std::vector<double>& scores,
                       double band, IndexDiff& d) {
  d.compared += static_cast<int64_t>(sim.size());
  const std::vector<int> diff = symmetric_difference(sim, gpu);
  if (diff.empty()) return;
  double cut = std::numeric_limits<double>::infinity();
  for (int x : sim)
    if (x >= 0 && x < static_cast<int>(scores.size())) cut = std::min(cut, scores[x]);
  for (int x : diff) {
    ++d.flips;
    if (x >= 0 && x < static_cast<int>(scores.size()) && std::isfinite(cut) &&
        std::abs(scores[x] - cut) <= band * std::abs(cut))
      ++d.near;
  }
}

// Which estimation row set produced by_query[m]: the shared one (the
// sequence's last rows) unless the plan has one pattern per query modality
// from its own rows (a Q-boundary).
int estimate_first_row(const RunShape& run, const nlohmann::json& plan, size_t m) {
  const auto& mu = run.params.at("mask_unit");
  const int64_t last_q = mu.value("last_q", 64);
  const int64_t lq = std::min(last_q, run.seq);
  if (plan.at("by_query").size() == 1 || plan.value("boundary", "none") != "q") return static_cast<int>(run.seq - lq);
  // Modalities in order of first appearance; the last segment of modality m.
  std::vector<std::string> names;
  int first = 0, pos = 0;
  for (const auto& s : run.params.at("segments")) {
    const std::string kind = s.at("kind").get<std::string>();
    const int len = s.at("tokens").get<int>();
    if (len <= 0) continue;
    auto it = std::find(names.begin(), names.end(), kind);
    if (it == names.end()) names.push_back(kind), it = names.end() - 1;
    if (static_cast<size_t>(it - names.begin()) == m) first = pos + len - static_cast<int>(std::min<int64_t>(last_q, len));
    pos += len;
  }
  return first;
}

}  // namespace

void check_patterns(const RunShape& run, Validation& out, std::vector<char>& row_ok) {
  const std::string sim_file = run.sim_dir + "/heads.json", gpu_file = run.gpu_dir + "/heads.json";
  const nlohmann::json sim = JsonReader::load_file(sim_file), gpu = JsonReader::load_file(gpu_file);
  const int64_t H = run.layers * run.groups, S = run.seq;
  if (!sim.is_array() || static_cast<int64_t>(sim.size()) != H)
    throw InputError(sim_file, "", "expected one entry per head (" + std::to_string(H) + ")");
  if (!gpu.is_array() || static_cast<int64_t>(gpu.size()) != H)
    throw InputError(gpu_file, "", "expected one entry per head (" + std::to_string(H) + ")");
  const nlohmann::json& mu = run.params.at("mask_unit");

  int64_t choice_flips = 0, choice_near = 0, heads_excluded = 0;
  IndexDiff idx;
  int64_t layouts_compared = 0, layout_mismatches = 0, size_mismatches = 0;
  ErrorAccumulator est, pooled, masses;
  bool est_ok = true, pooled_ok = true, nulls_ok = true;
  for (int64_t h = 0; h < H; ++h) {
    const nlohmann::json &a = head_at(sim, h, sim_file), &b = head_at(gpu, h, gpu_file);
    // Estimates: column / diagonal sums of each estimation row set, pooled block scores.
    const nlohmann::json sets_a = a["estimates"].value("sets", nlohmann::json::array());
    const nlohmann::json sets_b = b["estimates"].value("sets", nlohmann::json::array());
    std::map<int, const nlohmann::json*> by_first;
    for (const auto& s : sets_b) by_first[s.at("first_row").get<int>()] = &s;
    for (const auto& s : sets_a) {
      auto it = by_first.find(s.at("first_row").get<int>());
      if (it == by_first.end()) {
        nulls_ok = false;
        continue;
      }
      for (const char* key : {"vertical", "slash"}) {
        const auto &x = s.at(key), &y = it->second->at(key);
        if (x.size() != y.size()) {
          nulls_ok = false;
          continue;
        }
        const double tol = kEstimateRel * max_finite(x);
        for (size_t j = 0; j < x.size(); ++j) {
          if (x[j].is_null() != y[j].is_null()) nulls_ok = false;
          if (x[j].is_null() || y[j].is_null()) continue;
          est.add(x[j].get<double>(), y[j].get<double>());
          est_ok = est_ok && std::abs(x[j].get<double>() - y[j].get<double>()) <= tol;
        }
      }
    }
    const nlohmann::json pa = a["estimates"].value("pooled", nlohmann::json::array());
    const nlohmann::json pb = b["estimates"].value("pooled", nlohmann::json::array());
    if (pa.size() == pb.size()) {
      for (size_t r = 0; r < pa.size(); ++r) {
        const double tol = kEstimateRel * max_finite(pa[r]);
        for (size_t c = 0; c < pa[r].size() && c < pb[r].size(); ++c) {
          pooled.add(score(pa[r][c]), score(pb[r][c]));
          pooled_ok = pooled_ok && std::abs(score(pa[r][c]) - score(pb[r][c])) <= tol;
        }
      }
    } else if (!pa.empty() && !pb.empty()) {
      pooled_ok = false;
    }

    // The choice: boundary, skips and pattern kinds.
    const nlohmann::json &plan_a = a["plan"], &plan_b = b["plan"];
    bool same_choice = plan_a.value("boundary", "") == plan_b.value("boundary", "") &&
                       plan_a.value("skip", nlohmann::json()) == plan_b.value("skip", nlohmann::json()) &&
                       plan_a.at("by_query").size() == plan_b.at("by_query").size();
    for (size_t m = 0; same_choice && m < plan_a["by_query"].size(); ++m)
      same_choice = plan_a["by_query"][m].value("pattern", "") == plan_b["by_query"][m].value("pattern", "");
    bool identical = same_choice;
    if (!same_choice) {
      ++choice_flips;
      if (decision_margin(a["info"], mu) <= kMassBand) ++choice_near;
    } else {
      // Sizes and indices of each pattern; then the layouts they make.
      for (size_t m = 0; m < plan_a["by_query"].size(); ++m) {
        const nlohmann::json &pa_m = plan_a["by_query"][m], &pb_m = plan_b["by_query"][m];
        for (const char* key : {"n_init", "n_local", "n_last", "vertical_size", "slash_size", "block_topk"})
          if (pa_m.value(key, -1) != pb_m.value(key, -1)) identical = false, ++size_mismatches;
        const std::string kind = pa_m.value("pattern", "");
        const IndexDiff before = idx;
        if (kind == "vertical_slash") {
          const int first = estimate_first_row(run, plan_a, m);
          const nlohmann::json* set = nullptr;
          for (const auto& s : sets_a)
            if (s.at("first_row").get<int>() == first) set = &s;
          for (const char* key : {"verticals", "slashes"}) {
            std::vector<double> sc;
            double band = 0;
            if (set) {
              const auto& arr = set->at(std::string(key) == "verticals" ? "vertical" : "slash");
              for (const auto& x : arr) sc.push_back(score(x));
              band = kEstimateRel;
            }
            compare_selection(ints(pa_m.at(key)), ints(pb_m.at(key)), sc, band, idx);
          }
        } else if (kind == "block_sparse") {
          const auto &ka = pa_m.at("key_blocks"), &kb = pb_m.at("key_blocks");
          for (size_t qb = 0; qb < ka.size() && qb < kb.size(); ++qb) {
            std::vector<double> sc;
            double band = 0;
            if (qb < pa.size()) {
              for (size_t c = 0; c <= qb && c < pa[qb].size(); ++c)
                sc.push_back(c == qb ? std::numeric_limits<double>::infinity() : score(pa[qb][c]));
              nlohmann::json row = nlohmann::json::array();
              for (size_t c = 0; c <= qb && c < pa[qb].size(); ++c) row.push_back(pa[qb][c]);
              band = kEstimateRel;
            }
            compare_selection(ints(ka[qb]), ints(kb[qb]), sc, band, idx);
          }
          if (ka.size() != kb.size()) identical = false;
        }
        if (idx.flips != before.flips) identical = false;
        if (identical && (pa_m.contains("layout") || pb_m.contains("layout"))) {
          ++layouts_compared;
          if (pa_m.value("layout", nlohmann::json()) != pb_m.value("layout", nlohmann::json())) ++layout_mismatches;
        }
      }
    }
    if (identical) {
      masses.add(a["info"].value("mass_kept", 0.0), b["info"].value("mass_kept", 0.0));
    } else {
      ++heads_excluded;
      for (int64_t r = 0; r < S; ++r) row_ok[h * S + r] = 0;
    }
  }

  TensorCheck choice;
  choice.name = "pattern choice";
  choice.shape = std::to_string(H) + " heads";
  choice.compared = H;
  choice.tolerance = "differs only with a decision margin <= " + fmt(kMassBand);
  choice.mask = std::to_string(choice_flips) + " differ, " + std::to_string(choice_near) + " near ties";
  choice.pass = choice_flips == choice_near;
  out.checks.push_back(choice);
  TensorCheck ix;
  ix.name = "indices";
  ix.shape = "verticals, slashes, key blocks";
  ix.compared = idx.compared;
  ix.tolerance = "flips only within rel " + fmt(kEstimateRel) + " of the cut";
  ix.mask = std::to_string(idx.flips) + " differ, " + std::to_string(idx.near) + " near ties";
  ix.pass = idx.flips == idx.near && size_mismatches <= idx.flips;
  out.checks.push_back(ix);
  TensorCheck lay;
  lay.name = "index layouts";
  lay.shape = "block_offset, column_index";
  lay.compared = layouts_compared;
  lay.tolerance = "identical where the indices are";
  lay.mask = std::to_string(layout_mismatches) + " of " + std::to_string(layouts_compared) + " differ";
  lay.pass = layout_mismatches == 0;
  out.checks.push_back(lay);
  TensorCheck e = est.check("estimate sums", "vertical, slash");
  e.tolerance = "rel " + fmt(kEstimateRel) + " of the set's max; forced entries identical";
  e.pass = est_ok && nulls_ok;
  out.checks.push_back(e);
  TensorCheck p = pooled.check("pooled block scores", "nb x nb");
  p.tolerance = "rel " + fmt(kEstimateRel) + " of the row's max";
  p.pass = pooled_ok;
  out.checks.push_back(p);
  TensorCheck mk = masses.check("mass_kept", "identical plans");
  mk.tolerance = "abs " + fmt(kMassBand);
  mk.pass = mk.max_abs_error <= kMassBand;
  out.checks.push_back(mk);
  out.details["patterns"] = {{"choice_flips", choice_flips}, {"choice_near_ties", choice_near},
                             {"index_flips", idx.flips},     {"index_near_ties", idx.near},
                             {"size_mismatches", size_mismatches}, {"heads_excluded", heads_excluded}};
  out.notes.push_back("patterns: " + std::to_string(choice_flips) + " of " + std::to_string(H) + " choices and " +
                      std::to_string(idx.flips) + " indices differ (" + std::to_string(choice_near + idx.near) +
                      " near ties); " + std::to_string(heads_excluded) + " heads left out of the mask and value checks");
}

}  // namespace attnsim::validation
