#include "kernels/pattern_detect.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

namespace attnsim {

int64_t DetectorActivity::estimate_rows() const {
  int64_t r = 0;
  for (const auto& g : estimate_gemms) r += g.first;
  return r;
}

MatF estimate_probs(const MatF& q, const MatF& k, double scale, const std::vector<int>& rows) {
  const int n = static_cast<int>(rows.size());
  MatF p = MatF::Zero(n, k.rows());
  // One GEMM per run of consecutive rows, over the run's causal keys.
  for (int a = 0; a < n;) {
    int b = a + 1;
    while (b < n && rows[b] == rows[b - 1] + 1) ++b;
    const int keys = rows[b - 1] + 1;
    const MatF qr = q.middleRows(rows[a], b - a) * static_cast<float>(scale);
    const MatF s = qr * k.topRows(keys).transpose();
    for (int r = a; r < b; ++r) {
      const int lim = rows[r] + 1;
      const auto sr = s.row(r - a);
      const float m = sr.head(lim).maxCoeff();
      float z = 0;
      for (int j = 0; j < lim; ++j) z += (p(r, j) = std::exp(sr(j) - m));
      p.row(r).head(lim) /= z;
    }
    a = b;
  }
  return p;
}

std::vector<int32_t> top_k_indices(const std::vector<float>& scores, int k) {
  const int n = static_cast<int>(scores.size());
  std::vector<int32_t> idx(n);
  for (int i = 0; i < n; ++i) idx[i] = i;
  if (k < n) {
    auto better = [&](int32_t a, int32_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); };
    std::nth_element(idx.begin(), idx.begin() + std::max(0, k), idx.end(), better);
    idx.resize(std::max(0, k));
  }
  std::sort(idx.begin(), idx.end());
  return idx;
}

VerticalSlashScores vertical_slash_scores(const MatF& probs, const std::vector<int>& rows, int init_columns,
                                          int local_diagonals) {
  const int keys = rows.empty() ? 0 : rows.back() + 1;
  VerticalSlashScores sc;
  sc.vertical.assign(keys, 0.f);
  sc.slash.assign(keys, 0.f);  // slash[o]: offset o = i - j
  for (size_t r = 0; r < rows.size(); ++r)
    for (int j = 0; j <= rows[r]; ++j) {
      sc.vertical[j] += probs(r, j);
      sc.slash[rows[r] - j] += probs(r, j);
    }
  const float inf = std::numeric_limits<float>::infinity();
  for (int j = 0; j < std::min(init_columns, keys); ++j) sc.vertical[j] = inf;
  for (int o = 0; o < std::min(local_diagonals, keys); ++o) sc.slash[o] = inf;
  return sc;
}

VerticalSlash pick_vertical_slash(const VerticalSlashScores& sc, int v, int s) {
  const int keys = static_cast<int>(sc.vertical.size());
  return {top_k_indices(sc.vertical, std::min(v, keys)), top_k_indices(sc.slash, std::min(s, keys))};
}

VerticalSlash estimate_vertical_slash(const MatF& probs, const std::vector<int>& rows, int v, int s,
                                      int init_columns, int local_diagonals) {
  return pick_vertical_slash(vertical_slash_scores(probs, rows, init_columns, local_diagonals), v, s);
}

MatF pooled_block_scores(const MatF& q, const MatF& k, double scale, int block) {
  const int L = static_cast<int>(q.rows()), nb = (L + block - 1) / block;
  MatF qp(nb, q.cols()), kp(nb, k.cols());
  for (int b = 0; b < nb; ++b) {
    const int n = std::min(block, L - b * block);
    qp.row(b) = q.middleRows(b * block, n).colwise().mean();
    kp.row(b) = k.middleRows(b * block, n).colwise().mean();
  }
  return (qp * kp.transpose()) * static_cast<float>(scale);
}

std::vector<std::vector<int32_t>> pick_block_sparse(const MatF& s, int topk, bool force_diagonal) {
  const int nb = static_cast<int>(s.rows());
  std::vector<std::vector<int32_t>> out(nb);
  std::vector<float> row;
  for (int qb = 0; qb < nb; ++qb) {
    row.assign(s.row(qb).data(), s.row(qb).data() + qb + 1);
    if (force_diagonal) row[qb] = std::numeric_limits<float>::infinity();
    out[qb] = top_k_indices(row, std::min(topk, qb + 1));
  }
  return out;
}

std::vector<std::vector<int32_t>> estimate_block_sparse(const MatF& q, const MatF& k, double scale, int block,
                                                        int topk, bool force_diagonal) {
  return pick_block_sparse(pooled_block_scores(q, k, scale, block), topk, force_diagonal);
}

double plan_density(const MaskPlan& plan, int max_rows) {
  const int L = plan.by_query.at(0).seq;
  if (L == 0) return 0;
  const int n = std::min(L, std::max(1, max_rows));
  std::vector<int32_t> keys;
  double kept = 0, allowed = 0;
  for (int t = 0; t < n; ++t) {
    const int i = static_cast<int>((static_cast<int64_t>(2 * t + 1) * L) / (2 * n));
    plan.row_keys(i, keys);
    kept += static_cast<double>(keys.size());
    allowed += i + 1;
  }
  return kept / allowed;
}

namespace {

struct Sizes {
  int n_init = 0, n_local = 1, n_last = 0, v = 0, s = 0, topk = 1;
};

// Shared state of one head's detection.
struct Detector {
  const MatF& q;
  const MatF& k;
  double scale;
  std::shared_ptr<const SegmentMap> segs;
  const DetectorParams& p;
  int L = 0, budget_keys = 1;
  std::vector<int> prob_rows;          // rows with estimated probabilities (ascending)
  std::map<int, int> prob_index;       // row -> index in probs
  MatF probs;
  DetectorActivity act;

  Detector(const MatF& q_, const MatF& k_, double scale_, std::shared_ptr<const SegmentMap> s,
           const DetectorParams& p_)
      : q(q_), k(k_), scale(scale_), segs(std::move(s)), p(p_) {
    L = static_cast<int>(q.rows());
    budget_keys = std::max<int>(1, static_cast<int>(std::lround(p.budget * (L + 1) / 2.0)));
  }

  void load_probs(std::vector<int> rows) {
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    prob_rows = rows;
    for (size_t r = 0; r < rows.size(); ++r) prob_index[rows[r]] = static_cast<int>(r);
    probs = estimate_probs(q, k, scale, rows);
    // The estimation GEMM of each contiguous run of rows (its causal keys).
    for (size_t a = 0; a < rows.size();) {
      size_t b = a + 1;
      while (b < rows.size() && rows[b] == rows[b - 1] + 1) ++b;
      act.estimate_gemms.emplace_back(static_cast<int64_t>(b - a), rows[b - 1] + 1);
      for (size_t r = a; r < b; ++r) act.probabilities += rows[r] + 1;
      a = b;
    }
  }

  Sizes default_sizes() const {
    Sizes z;
    const int B = budget_keys;
    z.n_init = std::min(p.n_init, std::max(1, B / 4));
    z.n_local = std::max(1, B - z.n_init);
    z.n_last = std::min(p.n_last, L);
    z.v = std::min(L, std::max(p.min_vertical, static_cast<int>(std::lround(p.vertical_share * B))));
    z.s = std::min(L, std::max(p.min_slash, B - z.v));
    z.topk = p.block_topk > 0 ? p.block_topk : std::max(1, static_cast<int>(std::lround(double(B) / p.block)));
    return z;
  }

  int max_grid_width() const {
    int w = 0;
    for (const auto& s : segs->segments())
      if (s.is_grid()) w = std::max(w, s.grid_w);
    return w;
  }

  // Column and diagonal sums of an estimation row set (computed once per set).
  std::map<int, VerticalSlashScores> vs_scores;
  const VerticalSlashScores& scores_of(const std::vector<int>& est_rows) {
    const int key = est_rows.empty() ? -1 : est_rows.front();
    auto it = vs_scores.find(key);
    if (it != vs_scores.end()) return it->second;
    MatF sub(est_rows.size(), L);
    for (size_t r = 0; r < est_rows.size(); ++r) sub.row(r) = probs.row(prob_index.at(est_rows[r]));
    for (int r : est_rows) act.sum_updates += 2 * static_cast<int64_t>(r + 1);
    return vs_scores.emplace(key, vertical_slash_scores(sub, est_rows, p.init_columns, p.local_diagonals))
        .first->second;
  }
  MatF pooled;  // block-sparse pooled scores (computed once)
  const MatF& pooled_scores() {
    if (pooled.size() == 0) {
      pooled = pooled_block_scores(q, k, scale, p.block);
      act.pooled_tokens += 2 * static_cast<int64_t>(L);
      act.pooled_blocks = pooled.rows();
    }
    return pooled;
  }

  // Builds a candidate with its sizes scaled by f (budget fitting; the
  // MInference floors v >= min_vertical, s >= min_slash stay); returns false
  // when it does not apply. Charges the top-k selections and index building.
  bool build(const std::string& kind, const Sizes& z, const std::vector<int>& est_rows, HeadPattern& out,
             double f = 1.0) {
    out = HeadPattern();
    out.kind = kind;
    out.seq = L;
    out.block = p.block;
    out.block_granular = kind == "a_shape" || kind == "tri_shape" ? p.a_shape_block_granular : p.block_granular;
    out.segments = segs;
    const int64_t nb = (L + p.block - 1) / p.block;
    auto scaled = [&](int x, int floor) { return std::max(std::min(x, floor), static_cast<int>(std::lround(f * x))); };
    if (kind == "a_shape" || kind == "tri_shape") {
      out.n_init = z.n_init;
      out.n_local = scaled(z.n_local, 1);
      if (kind == "tri_shape") {
        // Budget over all rows: the dense tail costs n_last rows of about L keys.
        out.n_last = z.n_last;
        const double total = double(budget_keys) * L, tail = double(z.n_last) * (L - z.n_last / 2.0);
        const double per_row = L > z.n_last ? (total - tail) / (L - z.n_last) : 0;
        if (z.n_last <= 0 || per_row < z.n_init + 1) return false;
        out.n_local = std::max(1, static_cast<int>(per_row) - z.n_init);
      }
      act.index_items += 2 * nb;
    } else if (kind == "grid") {
      const int w = max_grid_width();
      if (w == 0) return false;
      out.n_init = z.n_init;
      out.n_local = w;  // the same patch row
      act.index_items += 2 * nb;
    } else if (kind == "vertical_slash") {
      const VerticalSlashScores& sc = scores_of(est_rows);
      const int keys = static_cast<int>(sc.vertical.size());
      const int v = std::min(keys, scaled(z.v, p.min_vertical)), sl = std::min(keys, scaled(z.s, p.min_slash));
      const VerticalSlash vs = pick_vertical_slash(sc, v, sl);
      out.verticals = vs.verticals;
      out.slashes = vs.slashes;
      act.topks.emplace_back(keys, v);
      act.topks.emplace_back(keys, sl);
      act.index_items += nb * static_cast<int64_t>(out.verticals.size() + out.slashes.size());
    } else if (kind == "block_sparse") {
      const int topk = scaled(z.topk, 1);
      out.key_blocks = pick_block_sparse(pooled_scores(), topk, p.block_sparse_force_diagonal);
      for (int64_t qb = 0; qb < nb; ++qb) act.topks.emplace_back(qb + 1, std::min<int64_t>(topk, qb + 1));
      for (const auto& b : out.key_blocks) act.index_items += static_cast<int64_t>(b.size());
    } else if (kind == "dense") {
    } else {
      throw std::logic_error("unknown candidate '" + kind + "'");
    }
    out.prepare();
    return true;
  }

  // Sizes a candidate to the budget: when its density (sampled rows) exceeds
  // budget * (1 + slack), the largest size factor that fits is searched by
  // bisection (own rule; block layouts round slashes up to whole blocks).
  bool build_fitted(const std::string& kind, const Sizes& z, const std::vector<int>& est_rows, HeadPattern& out) {
    if (!build(kind, z, est_rows, out)) return false;
    if (kind != "a_shape" && kind != "vertical_slash" && kind != "block_sparse") return true;
    const double target = std::min(1.0, p.budget * (1 + p.budget_slack));
    if (plan_density(single(out)) <= target) return true;
    double lo = 0, hi = 1;
    HeadPattern trial;
    build(kind, z, est_rows, out, 0.0);  // the floors: the smallest this candidate gets
    for (int it = 0; it < 8; ++it) {
      const double mid = 0.5 * (lo + hi);
      build(kind, z, est_rows, trial, mid);
      if (plan_density(single(trial)) <= target) {
        lo = mid;
        out = trial;
      } else {
        hi = mid;
      }
    }
    return true;
  }

  // Mean attention mass the plan keeps over `rows`, each row's keys filtered
  // by `skip` for its query modality. Tri-shape: the dense tail's rows count
  // with mass 1 in proportion to their share of the `group_rows` rows.
  double mass(const MaskPlan& plan, const std::vector<int>& rows, int64_t group_rows, bool charge) {
    if (rows.empty()) return 0;
    std::vector<int32_t> keys;
    double sum = 0;
    for (int i : rows) {
      plan.row_keys(i, keys);
      const auto pr = probs.row(prob_index.at(i));
      double m = 0;
      for (int32_t j : keys) m += pr(j);
      sum += m;
      if (charge) act.candidate_entries += i + 1;
    }
    double mean = sum / static_cast<double>(rows.size());
    const HeadPattern& hp = plan.by_query.at(0);
    if (plan.by_query.size() == 1 && hp.kind == "tri_shape") {
      // rows evaluated as A-shape, extrapolated: the tail rows are dense.
      MaskPlan a = plan;
      a.by_query[0].kind = "a_shape";
      a.by_query[0].prepare();
      double sa = 0;
      for (int i : rows) {
        a.row_keys(i, keys);
        const auto pr = probs.row(prob_index.at(i));
        for (int32_t j : keys) sa += pr(j);
      }
      const double f = std::min(1.0, double(hp.n_last) / std::max<int64_t>(1, group_rows));
      mean = f + (1 - f) * sa / static_cast<double>(rows.size());
    }
    return mean;
  }

  MaskPlan single(const HeadPattern& hp) const {
    MaskPlan plan;
    plan.by_query = {hp};
    plan.segments = segs;
    return plan;
  }

  struct Choice {
    HeadPattern pattern;
    double mass = 0;
    nlohmann::json candidates = nlohmann::json::object();
  };

  // MMInference's search: candidates in order, a later one wins only with
  // more than select_delta more mass; then the dense fallback.
  Choice choose(const std::vector<int>& est_rows, const std::vector<int>& eval_rows, int64_t group_rows,
                bool allow_grid) {
    Choice best;
    bool have = false;
    const Sizes z = default_sizes();
    for (const auto& kind : p.candidates) {
      if (kind == "grid" && !allow_grid) continue;
      HeadPattern hp;
      if (!build_fitted(kind, z, est_rows, hp)) continue;
      ++act.candidates_evaluated;
      const double m = mass(single(hp), eval_rows, group_rows, true);
      best.candidates[kind] = m;
      if (!have || m > best.mass + p.select_delta) {
        best.pattern = hp;
        best.mass = m;
        have = true;
      }
    }
    if (!have || best.mass < p.min_mass) {
      build("dense", z, est_rows, best.pattern);
      best.mass = 1.0;
    }
    return best;
  }

  // A choice from a pattern file: kind and sizes fixed, indices estimated.
  HeadPattern from_choice(const nlohmann::json& j, const std::vector<int>& est_rows) {
    Sizes z = default_sizes();
    const std::string kind = j.at("pattern").get<std::string>();
    z.n_init = j.value("n_init", z.n_init);
    z.n_local = j.value("n_local", z.n_local);
    z.n_last = j.value("n_last", z.n_last);
    z.v = j.value("vertical_size", z.v);
    z.s = j.value("slash_size", z.s);
    z.topk = j.value("block_topk", z.topk);
    HeadPattern hp;
    if (!build(kind, z, est_rows, hp)) build("dense", z, est_rows, hp);
    if (kind == "tri_shape") {  // the file's n_local, not the budget's
      hp.n_local = z.n_local;
      hp.prepare();
    }
    return hp;
  }
};

std::vector<int> range_rows(int a, int b) {
  std::vector<int> r;
  for (int i = a; i < b; ++i) r.push_back(i);
  return r;
}

// Evaluation rows of one group: its estimation rows plus eval_groups - 1
// groups of last_q consecutive tokens (of the group's modality) spread evenly.
std::vector<int> eval_rows_of(const std::vector<int>& tokens, const std::vector<int>& est, int groups, int last_q) {
  std::vector<int> rows = est;
  const int n = static_cast<int>(tokens.size());
  for (int g = 1; g < groups; ++g) {
    const int end = static_cast<int>(static_cast<int64_t>(n) * g / groups);
    for (int t = std::max(0, end - last_q); t < end; ++t) rows.push_back(tokens[t]);
  }
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

nlohmann::json pattern_info(const HeadPattern& hp, bool indices) { return hp.to_json(indices); }

}  // namespace

HeadDetection detect_head(const MatF& q, const MatF& k, double scale, const std::shared_ptr<const SegmentMap>& segments,
                          const DetectorParams& p, const nlohmann::json* fixed) {
  if (q.rows() != k.rows() || q.rows() == 0) throw std::invalid_argument("detect_head: Q and K must have the same rows");
  auto segs = segments ? segments : std::make_shared<const SegmentMap>(SegmentMap::single(static_cast<int>(q.rows())));
  if (segs->seq() != q.rows()) throw std::invalid_argument("detect_head: segments do not match the sequence");
  Detector d(q, k, scale, segs, p);
  const int L = d.L, M = segs->modalities();
  const int lq = std::min(p.last_q, L);

  // Row sets: the shared estimation rows (the sequence's last last_q) and,
  // with several modalities, each modality's (the end of its last segment).
  std::vector<std::vector<int>> tokens(M);
  for (int t = 0; t < L; ++t) tokens[segs->modality(t)].push_back(t);
  const std::vector<int> est_shared = range_rows(L - lq, L);
  std::vector<std::vector<int>> est_m(M), eval_m(M);
  std::vector<int> eval_all, all_rows = est_shared;
  for (int m = 0; m < M; ++m) {
    const auto [a, b] = M == 1 ? std::make_pair(L - lq, L) : segs->last_rows(m, p.last_q);
    est_m[m] = range_rows(a, b);
    eval_m[m] = eval_rows_of(tokens[m], est_m[m], p.eval_groups, p.last_q);
    eval_all.insert(eval_all.end(), eval_m[m].begin(), eval_m[m].end());
    all_rows.insert(all_rows.end(), eval_m[m].begin(), eval_m[m].end());
  }
  std::sort(eval_all.begin(), eval_all.end());
  d.load_probs(all_rows);
  d.act.row_blocks = (L + p.block - 1) / p.block;

  HeadDetection out;
  MaskPlan& plan = out.plan;
  plan.segments = segs;
  nlohmann::json info = nlohmann::json::object();
  const bool any_grid = [&] {
    for (int m = 0; m < M; ++m)
      if (segs->has_grid(m)) return true;
    return false;
  }();

  if (fixed) {
    // A pattern file's choice: shared pattern or one per query modality, and skips.
    const std::string boundary = fixed->value("boundary", "none");
    plan.boundary = boundary;
    if (fixed->contains("by_modality")) {
      for (int m = 0; m < M; ++m) {
        const auto& bm = fixed->at("by_modality");
        const std::string name = segs->modality_name(m);
        plan.by_query.push_back(bm.contains(name) ? d.from_choice(bm.at(name), est_m[m])
                                                  : d.from_choice({{"pattern", "dense"}}, est_m[m]));
      }
    } else {
      plan.by_query = {d.from_choice(*fixed, est_shared)};
    }
    if (fixed->contains("skip")) {
      plan.skip.assign(M, std::vector<char>(M, 0));
      for (const auto& s : fixed->at("skip")) {
        const int qm = segs->modality_index(s.at("q").get<std::string>());
        const int km = segs->modality_index(s.at("k").get<std::string>());
        if (qm >= 0 && km >= 0) plan.skip[qm][km] = 1;
      }
    }
    info["source"] = "pattern_file";
  } else if (M == 1) {
    auto c = d.choose(est_shared, eval_all, L, any_grid);
    plan.by_query = {c.pattern};
    info["candidates"] = c.candidates;
  } else {
    // No boundary: one pattern from the sequence's last rows for every query.
    auto shared = d.choose(est_shared, eval_all, L, any_grid);
    const double mass_none = d.mass(d.single(shared.pattern), eval_all, L, false);
    // Q-boundary: each query modality its own pattern from its own rows.
    std::vector<Detector::Choice> per;
    MaskPlan qplan;
    qplan.boundary = "q";
    qplan.segments = segs;
    nlohmann::json cands = nlohmann::json::object();
    for (int m = 0; m < M; ++m) {
      per.push_back(d.choose(est_m[m], eval_m[m], static_cast<int64_t>(tokens[m].size()), segs->has_grid(m)));
      qplan.by_query.push_back(per.back().pattern);
      cands[segs->modality_name(m)] = per.back().candidates;
    }
    const double mass_q = d.mass(qplan, eval_all, L, true);
    // Per-modality indices fit their own rows a little better even without a
    // boundary (up to ~0.02 on our workloads): a larger margin than select_delta.
    const bool q_boundary = mass_q > mass_none + p.boundary_delta;
    // Region shares: which key modalities a query modality hardly attends.
    std::vector<std::vector<char>> skip(M, std::vector<char>(M, 0));
    bool any_skip = false;
    nlohmann::json shares = nlohmann::json::object();
    for (int m = 0; m < M; ++m) {
      std::vector<double> share(M, 0.0), visible(M, 0.0);
      for (int i : eval_m[m]) {
        const auto pr = d.probs.row(d.prob_index.at(i));
        for (int j = 0; j <= i; ++j) {
          share[segs->modality(j)] += pr(j);
          visible[segs->modality(j)] += 1;
        }
      }
      const double n = std::max<size_t>(1, eval_m[m].size());
      nlohmann::json sj = nlohmann::json::object();
      for (int km = 0; km < M; ++km) {
        share[km] /= n;
        sj[segs->modality_name(km)] = share[km];
        // Skipping saves something only when the region holds at least a block of keys per row.
        if (share[km] < p.skip_mass && visible[km] / n >= p.block) {
          skip[m][km] = 1;
          any_skip = true;
        }
      }
      shares[segs->modality_name(m)] = sj;
    }
    bool same_skip_for_all = any_skip;
    for (int m = 1; m < M; ++m) same_skip_for_all = same_skip_for_all && skip[m] == skip[0];
    if (!any_skip) {
      plan.boundary = q_boundary ? "q" : "none";
    } else {
      plan.boundary = (!q_boundary && same_skip_for_all) ? "k" : "2d";
      plan.skip = skip;
    }
    if (q_boundary)
      plan.by_query = qplan.by_query;
    else if (plan.boundary == "2d")
      plan.by_query.assign(M, shared.pattern);
    else
      plan.by_query = {shared.pattern};
    info["candidates"] = {{"shared", shared.candidates}, {"by_modality", cands}};
    info["boundary_mass"] = {{"none", mass_none}, {"q", mass_q}};
    info["modality_shares"] = shares;
  }

  // Report: the pattern(s), the skips, the layout, density and mass.
  nlohmann::json head = nlohmann::json::object();
  if (plan.by_query.size() == 1) {
    head = pattern_info(plan.by_query[0], p.report_indices);
  } else {
    head["pattern"] = plan.boundary + "_boundary";
    nlohmann::json bm = nlohmann::json::object();
    for (int m = 0; m < M; ++m) bm[segs->modality_name(m)] = pattern_info(plan.by_query[m], p.report_indices);
    head["by_modality"] = bm;
  }
  head["boundary"] = plan.boundary;
  if (!plan.skip.empty()) {
    nlohmann::json sk = nlohmann::json::array();
    for (int m = 0; m < M; ++m)
      for (int km = 0; km < M; ++km)
        if (plan.skip[m][km]) sk.push_back({{"q", segs->modality_name(m)}, {"k", segs->modality_name(km)}});
    head["skip"] = sk;
  }
  out.mass = d.mass(plan, eval_all, L, false);
  // Density over the causal entries: every row up to 4096 rows, else a strided sample.
  {
    std::vector<int32_t> keys;
    const int step = std::max(1, L / 4096);
    double kept = 0, allowed = 0;
    int sampled = 0;
    for (int i = step - 1; i < L; i += step, ++sampled) {
      plan.row_keys(i, keys);
      kept += static_cast<double>(keys.size());
      allowed += i + 1;
    }
    head["density"] = allowed > 0 ? kept / allowed : 0.0;
    if (step > 1) head["density_sampled_rows"] = sampled;
  }
  head["mass_kept"] = out.mass;
  head["estimation_rows"] = static_cast<int64_t>(d.prob_rows.size());
  head.update(info);
  out.info = head;
  out.activity = d.act;
  if (p.keep_estimates) {
    nlohmann::json sets = nlohmann::json::array();
    for (const auto& [first_row, sc] : d.vs_scores)
      sets.push_back({{"first_row", first_row}, {"keys", sc.vertical.size()}, {"vertical", sc.vertical},
                      {"slash", sc.slash}});
    nlohmann::json pooled = nlohmann::json::array();
    for (Eigen::Index r = 0; r < d.pooled.rows(); ++r)
      pooled.push_back(std::vector<float>(d.pooled.row(r).data(), d.pooled.row(r).data() + d.pooled.cols()));
    out.estimates = {{"sets", sets}, {"pooled", pooled}};
  }
  return out;
}

}  // namespace attnsim
