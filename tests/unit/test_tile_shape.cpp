// TileShape (kernels/tile_shape.h) and pack-and-split from a shape
// (kernels/pack_split.h) against the same functions on the enumerated CSR,
// over random structured plans; unstructured plans give no shape; a
// 131072-token tile is handled from its structure.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <tuple>

#include "controller/tile_traffic.h"
#include "kernels/pack_split.h"
#include "kernels/patterns.h"
#include "kernels/tile_shape.h"

using namespace attnsim;

namespace {

using Rng = std::mt19937;

int uniform(Rng& g, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }

// Ascending keys in [0, n): none, all, or a random few.
std::vector<int32_t> random_indices(Rng& g, int n) {
  std::vector<int32_t> v;
  const int mode = uniform(g, 0, 5);
  if (mode == 0) return v;
  const int keep = mode == 1 ? 1000 : uniform(g, 1, 60);  // per mille
  for (int j = 0; j < n; ++j)
    if (uniform(g, 0, 999) < keep) v.push_back(j);
  return v;
}

int pick(Rng& g, std::initializer_list<int> v) { return *(v.begin() + uniform(g, 0, static_cast<int>(v.size()) - 1)); }

// A structured pattern of `kind` with random parameters, including the edges
// (n_init 0, n_local 1 or beyond seq, empty or dense index lists, key blocks with gaps).
HeadPattern random_pattern(Rng& g, int seq, const std::string& kind) {
  HeadPattern p;
  p.kind = kind;
  p.seq = seq;
  p.block = pick(g, {16, 32, 64});
  p.block_granular = kind == "vertical_slash" || uniform(g, 0, 1);
  p.n_init = pick(g, {0, 0, 1, uniform(g, 0, seq), seq + 5});
  p.n_local = pick(g, {1, 1, 0, uniform(g, 1, seq), seq + 7});
  p.n_last = pick(g, {0, uniform(g, 0, seq), seq + 3});
  if (kind == "vertical_slash") {
    p.verticals = random_indices(g, seq);
    p.slashes = random_indices(g, seq);
  }
  const int nb = (seq + p.block - 1) / p.block;
  if (kind == "block_sparse") {
    p.key_blocks.resize(uniform(g, 0, nb));  // later row blocks may have no list
    for (int m = 0; m < static_cast<int>(p.key_blocks.size()); ++m)
      for (int kb = 0; kb <= m + 1; ++kb)  // kb = m + 1 is beyond the diagonal: dropped
        if (uniform(g, 0, 2) == 0) p.key_blocks[m].push_back(kb);
  }
  p.local_blocks = uniform(g, 1, 4);
  p.vert_stride = uniform(g, 1, 5);
  p.head_shift = uniform(g, 0, 6);
  p.prepare();
  return p;
}

MaskPlan plan_of(const HeadPattern& p) {
  MaskPlan plan;
  plan.by_query = {p};
  return plan;
}

// Text and vision segments of random lengths, alternating.
std::shared_ptr<const SegmentMap> random_segments(Rng& g, int seq) {
  std::vector<Segment> segs;
  for (int pos = 0, k = 0; pos < seq; ++k) {
    Segment s;
    s.kind = k % 2 ? "vision" : "text";
    s.length = std::min(seq - pos, uniform(g, 1, 400));
    pos += s.length;
    segs.push_back(s);
  }
  return std::make_shared<const SegmentMap>(segs, seq);
}

std::vector<SegmentWork> expand(const PackSplitSchedule& s) {
  std::vector<SegmentWork> out;
  for (const auto& c : s.compact) {
    SegmentWork w;
    w.segment = c.segment;
    for (const auto& run : c.runs)
      for (int64_t k = 0; k < run.repeat; ++k)
        for (SubRow sr : run.subrows) {
          sr.row += static_cast<int32_t>(k);
          w.subrows.push_back(sr);
        }
    out.push_back(w);
  }
  return out;
}

void expect_same_pack_split(const PackSplitSchedule& csr, const PackSplitSchedule& shape, bool expand_runs) {
  EXPECT_EQ(shape.nnz, csr.nnz);
  EXPECT_EQ(shape.subrows, csr.subrows);
  EXPECT_EQ(shape.row_segments, csr.row_segments);
  EXPECT_EQ(shape.skipped_row_segments, csr.skipped_row_segments);
  EXPECT_TRUE(shape.segments.empty());
  EXPECT_EQ(shape.compact.size(), csr.segments.size());
  if (expand_runs) {
    const auto e = expand(shape);
    ASSERT_EQ(e.size(), csr.segments.size());
    for (size_t g = 0; g < e.size(); ++g) {
      ASSERT_EQ(e[g].segment, csr.segments[g].segment);
      ASSERT_EQ(e[g].subrows.size(), csr.segments[g].subrows.size()) << "segment " << e[g].segment;
      for (size_t t = 0; t < e[g].subrows.size(); ++t) {
        const SubRow &a = e[g].subrows[t], &b = csr.segments[g].subrows[t];
        ASSERT_TRUE(a.row == b.row && a.nnz == b.nnz && a.first_col == b.first_col && a.last_col == b.last_col)
            << "segment " << e[g].segment << " sub-row " << t;
        EXPECT_EQ(a.idx_begin, -1);
      }
    }
  }
  for (int array_rows : {1, 3, 8, 64}) {
    const PassTotals a = pass_totals(csr, array_rows), b = pass_totals(shape, array_rows);
    EXPECT_EQ(b.passes, a.passes) << "array rows " << array_rows;
    EXPECT_EQ(b.skew_sum, a.skew_sum) << "array rows " << array_rows;
    EXPECT_EQ(b.bubbles, a.bubbles) << "array rows " << array_rows;
  }
}

// Every quantity of the tile from its shape equals the same on plan.mask().
void check_tile(const MaskPlan& plan, int row0, int rows, Rng& g, const std::string& what) {
  SCOPED_TRACE(what + " row0 " + std::to_string(row0) + " rows " + std::to_string(rows));
  const auto shape = tile_shape(plan, row0, rows);
  ASSERT_TRUE(shape.has_value());
  const CsrMask csr = plan.mask(row0, rows);
  // The groups cover the tile in order; intervals merged, inside [0, cols).
  int next = row0;
  for (const auto& grp : shape->groups) {
    ASSERT_EQ(grp.first, next);
    ASSERT_LT(grp.first, grp.end);
    ASSERT_GE(grp.band, 1);
    next = grp.end;
    for (size_t t = 0; t < grp.keys.size(); ++t) {
      ASSERT_LT(grp.keys[t].begin, grp.keys[t].end);
      ASSERT_GE(grp.keys[t].begin, t ? grp.keys[t - 1].end + 1 : 0);
      ASSERT_LE(grp.keys[t].end, shape->cols);
    }
  }
  ASSERT_EQ(next, row0 + rows);
  const CsrMask e = shape->enumerate();
  ASSERT_EQ(e.rows, csr.rows);
  ASSERT_EQ(e.cols, csr.cols);
  ASSERT_EQ(e.indptr, csr.indptr);
  ASSERT_EQ(e.indices, csr.indices);
  EXPECT_EQ(shape->nnz(), csr.nnz());
  std::vector<int32_t> a, b;
  for (int k = 0; k < 4; ++k) {
    const int i = row0 + uniform(g, 0, rows - 1);
    plan.row_keys(i, a);
    shape->row_keys(i, b);
    EXPECT_EQ(a, b) << "row " << i;
  }
  for (int block : {16, 32, 64}) {
    const int r0 = uniform(g, 0, rows - 1), r1 = uniform(g, r0, rows);
    std::vector<int64_t> want((csr.cols + block - 1) / block, 0), got = want;
    csr.count_blocks(r0, r1, block, want);
    shape->count_blocks(r0, r1, block, got);
    EXPECT_EQ(got, want) << "block " << block;
    const BlockLabelCounts x = label_blocks(csr, row0, block), y = label_blocks(*shape, block);
    EXPECT_TRUE(x.empty == y.empty && x.full == y.full && x.causal == y.causal && x.partial == y.partial)
        << "block " << block << ": empty " << y.empty << " full " << y.full << " causal " << y.causal << " partial "
        << y.partial << ", want " << x.empty << " " << x.full << " " << x.causal << " " << x.partial;
    EXPECT_EQ(needed_keys(*shape, block), needed_keys(csr, block)) << "block " << block;
  }
  for (int width : {16, 64, 100})
    for (int pes : {1, 4, 16}) {
      SCOPED_TRACE("segment width " + std::to_string(width) + " pes " + std::to_string(pes));
      expect_same_pack_split(pack_split(csr, width, pes), pack_split(*shape, width, pes), true);
    }
}

// A random tile of a seq-token head: aligned or not, the partial last tile, a single row.
std::pair<int, int> random_tile(Rng& g, int seq) {
  const int tile = pick(g, {64, 128, uniform(g, 1, 200)});
  switch (uniform(g, 0, 3)) {
    case 0: {  // an aligned tile, possibly the partial last one
      const int t = uniform(g, 0, (seq - 1) / tile) * tile;
      return {t, std::min(tile, seq - t)};
    }
    case 1: {  // the last tile
      const int t = (seq - 1) / tile * tile;
      return {t, seq - t};
    }
    case 2: {  // one row
      return {uniform(g, 0, seq - 1), 1};
    }
    default: {  // anywhere
      const int t = uniform(g, 0, seq - 1);
      return {t, uniform(g, 1, std::min(tile, seq - t))};
    }
  }
}

int random_seq(Rng& g) { return pick(g, {uniform(g, 1, 70), uniform(g, 1, 700), uniform(g, 1, 3000)}); }

}  // namespace

TEST(TileShape, StructuredPatternsMatchTheEnumeratedMask) {
  const std::vector<std::string> kinds = {"dense",          "none",         "a_shape",     "tri_shape",
                                          "vertical_slash", "block_sparse", "local_stride"};
  for (size_t k = 0; k < kinds.size(); ++k)
    for (int c = 0; c < 150; ++c) {
      const std::string& kind = kinds[k];
      Rng g(static_cast<unsigned>(1000 * c + k));
      const int seq = random_seq(g);
      const HeadPattern p = random_pattern(g, seq, kind);
      const MaskPlan plan = plan_of(p);
      const auto [row0, rows] = random_tile(g, seq);
      check_tile(plan, row0, rows, g,
                 kind + (p.has_layout() ? " (layout)" : "") + " case " + std::to_string(c) + " seq " +
                     std::to_string(seq) + " block " + std::to_string(p.block) + " n_init " +
                     std::to_string(p.n_init) + " n_local " + std::to_string(p.n_local) + " n_last " +
                     std::to_string(p.n_last));
      if (HasFatalFailure()) return;
    }
}

TEST(TileShape, TriShapeDenseRowsCrossingTheTile) {
  HeadPattern p;
  p.kind = "tri_shape";
  p.seq = 1000;
  p.n_init = 10;
  p.n_local = 30;
  p.n_last = 70;  // rows 930.. dense: inside the tile [900, 1000)
  p.block_granular = false;
  p.prepare();
  Rng g(7);
  check_tile(plan_of(p), 900, 100, g, "tri_shape exact");
  const auto s = tile_shape(plan_of(p), 900, 100);
  ASSERT_EQ(s->groups.size(), 2u);
  EXPECT_EQ(s->groups[1].first, 930);
  p.block_granular = true;
  p.prepare();
  check_tile(plan_of(p), 900, 100, g, "tri_shape layout");
}

// One pattern per query modality (boundary "q"): the groups split at the segments.
TEST(TileShape, PerModalityPatternsSplitAtSegments) {
  const std::vector<std::string> kinds = {"dense", "a_shape", "tri_shape", "vertical_slash", "block_sparse",
                                          "local_stride"};
  for (int c = 0; c < 150; ++c) {
    Rng g(77 + c);
    const int seq = random_seq(g);
    MaskPlan plan;
    plan.boundary = "q";
    plan.segments = random_segments(g, seq);
    for (int m = 0; m < plan.segments->modalities(); ++m)
      plan.by_query.push_back(random_pattern(g, seq, kinds[uniform(g, 0, static_cast<int>(kinds.size()) - 1)]));
    const auto [row0, rows] = random_tile(g, seq);
    check_tile(plan, row0, rows, g, "per modality case " + std::to_string(c));
    if (HasFatalFailure()) return;
  }
}

TEST(TileShape, DenseCausalShapeIsTheFullCausalMask) {
  Rng g(3);
  const std::vector<std::tuple<int, int, int>> tiles = {{0, 64, 64}, {100, 37, 300}, {0, 1, 1}, {250, 50, 300}};
  for (auto [row0, rows, cols] : tiles) {
    const TileShape s = dense_causal_shape(row0, rows, cols);
    const CsrMask full = CsrMask::full(rows, cols, true, row0);
    EXPECT_EQ(s.enumerate().indices, full.indices);
    EXPECT_EQ(s.nnz(), full.nnz());
    HeadPattern d;
    d.seq = cols;
    check_tile(plan_of(d), row0, rows, g, "dense");
  }
  EXPECT_THROW(dense_causal_shape(10, 5, 12), std::invalid_argument);
}

TEST(TileShape, UnstructuredPlansHaveNoShape) {
  auto segs = std::make_shared<const SegmentMap>(
      std::vector<Segment>{{"text", 0, 10}, {"vision", 0, 20, 4, 5}, {"text", 0, 6}}, 36);
  HeadPattern grid;
  grid.kind = "grid";
  grid.seq = 36;
  grid.n_local = 3;
  grid.segments = segs;
  grid.prepare();
  MaskPlan plan = plan_of(grid);
  plan.segments = segs;
  EXPECT_FALSE(tile_shape(plan, 0, 36));

  HeadPattern mod;
  mod.kind = "modality";
  mod.seq = 36;
  mod.segments = segs;
  mod.modality_rule = {1, 0, 1, 2};
  EXPECT_FALSE(tile_shape(plan_of(mod), 0, 36));

  HeadPattern vs;
  vs.kind = "vertical_slash";
  vs.seq = 36;
  vs.block_granular = false;
  vs.verticals = {0, 3};
  vs.slashes = {0, 4};
  vs.prepare();
  EXPECT_FALSE(tile_shape(plan_of(vs), 0, 36));
  vs.block_granular = true;
  vs.prepare();
  EXPECT_TRUE(tile_shape(plan_of(vs), 0, 36));

  HeadPattern dense;
  dense.seq = 36;
  MaskPlan skip = plan_of(dense);
  skip.segments = segs;
  skip.boundary = "k";
  skip.skip = {{0, 1}, {0, 0}};
  EXPECT_FALSE(tile_shape(skip, 0, 36));
  EXPECT_FALSE(tile_shape(plan_of(dense), 30, 7));  // past the sequence

  // Per query modality: a tile of text rows only is structured even when vision's pattern is not.
  MaskPlan q;
  q.boundary = "q";
  q.segments = segs;
  HeadPattern a;
  a.kind = "a_shape";
  a.seq = 36;
  a.n_init = 2;
  a.n_local = 4;
  a.block_granular = false;
  q.by_query = {a, grid};
  Rng g(5);
  check_tile(q, 0, 10, g, "text rows of a q-boundary plan");
  EXPECT_FALSE(tile_shape(q, 8, 4));
}

// A 131072-token head: the shape gives the tile's totals without enumerating it.
TEST(TileShape, LongContextTilesFromTheStructure) {
  const int seq = 131072, rows = 64, row0 = seq - rows;
  // Dense: rows keep every key j <= i. Segments (W = 64, P = 16) below the
  // tile's own: 64 rows x 4 sub-rows ending at columns 15, 31, 47, 63; a pass
  // of 64 sub-rows is 16 rows, skew 63 + 63. The tile's own segment is the
  // causal 64 x 64 triangle.
  const TileShape d = dense_causal_shape(row0, rows, seq);
  EXPECT_EQ(d.nnz(), int64_t{rows} * row0 + rows * (rows + 1) / 2);
  const PackSplitSchedule s = pack_split(d, 64, 16);
  const PackSplitSchedule tri = pack_split(CsrMask::full(64, 64, true, 0), 64, 16);
  const int64_t below = seq / 64 - 1;
  EXPECT_EQ(s.nnz, d.nnz());
  EXPECT_EQ(s.subrows, below * 256 + tri.subrows);
  EXPECT_EQ(tri.subrows, 16 * (1 + 2 + 3 + 4));
  EXPECT_EQ(s.row_segments, int64_t{rows} * (seq / 64));
  EXPECT_EQ(s.skipped_row_segments, 0);
  const PassTotals t = pass_totals(s, 64), tt = pass_totals(tri, 64);
  EXPECT_EQ(t.passes, below * 4 + tt.passes);
  EXPECT_EQ(t.skew_sum, below * 4 * 126 + tt.skew_sum);
  EXPECT_EQ(t.bubbles, 0);
  // A pass of 8 sub-rows is 2 rows: skew 7 + 63.
  const PassTotals t8 = pass_totals(s, 8), tt8 = pass_totals(tri, 8);
  EXPECT_EQ(t8.passes, below * 32 + tt8.passes);
  EXPECT_EQ(t8.skew_sum, below * 32 * 70 + tt8.skew_sum);
  HeadPattern dp;
  dp.seq = seq;
  const auto ds = tile_shape(plan_of(dp), row0, rows);
  ASSERT_TRUE(ds);
  EXPECT_EQ(ds->nnz(), d.nnz());
  EXPECT_EQ(needed_keys(*ds, 64), seq);

  // Block-granular A-shape and vertical-slash (~1000 verticals and slashes):
  // these tiles are small enough to enumerate for the check.
  HeadPattern a;
  a.kind = "a_shape";
  a.seq = seq;
  a.n_init = 128;
  a.n_local = 4096;
  a.prepare();
  HeadPattern vs;
  vs.kind = "vertical_slash";
  vs.seq = seq;
  Rng g(11);
  for (int j = 0; j < seq; ++j) {
    if (uniform(g, 0, 130) == 0) vs.verticals.push_back(j);
    if (uniform(g, 0, 130) == 0) vs.slashes.push_back(j);
  }
  EXPECT_GT(vs.verticals.size(), 800u);
  EXPECT_GT(vs.slashes.size(), 800u);
  vs.prepare();
  for (const HeadPattern* p : {&a, &vs}) {
    const MaskPlan plan = plan_of(*p);
    const auto shape = tile_shape(plan, row0 - 100, rows);
    ASSERT_TRUE(shape);
    const CsrMask csr = plan.mask(row0 - 100, rows);
    EXPECT_EQ(shape->nnz(), csr.nnz());
    EXPECT_EQ(needed_keys(*shape, 64), needed_keys(csr, 64));
    expect_same_pack_split(pack_split(csr, 64, 16), pack_split(*shape, 64, 16), false);
  }
}
