// The pattern generators (kernels/patterns.h, kernels/pattern_static.h):
// each pattern's entries against its definition, MInference's block layout
// on a hand-worked case, the inter-modality mask plan, block labels.
#include <gtest/gtest.h>

#include <set>

#include "kernels/pattern_static.h"
#include "kernels/patterns.h"

using namespace attnsim;

namespace {

std::vector<int32_t> keys_of(const HeadPattern& p, int i) {
  std::vector<int32_t> k;
  p.row_keys(i, k);
  return k;
}

std::vector<int32_t> range(int a, int b) {
  std::vector<int32_t> r;
  for (int i = a; i < b; ++i) r.push_back(i);
  return r;
}

void expect_sorted_causal(const std::vector<int32_t>& k, int i) {
  for (size_t t = 0; t < k.size(); ++t) {
    EXPECT_LE(k[t], i);
    EXPECT_GE(k[t], 0);
    if (t) {
      EXPECT_LT(k[t - 1], k[t]);
    }
  }
}

std::shared_ptr<const SegmentMap> text_vision_text() {
  Segment a{"text", 0, 10}, v{"vision", 0, 20, 4, 5}, b{"text", 0, 6};
  return std::make_shared<const SegmentMap>(std::vector<Segment>{a, v, b}, 36);
}

}  // namespace

TEST(Patterns, SegmentMapAssignsModalitiesAndDropsEmptySegments) {
  Segment a{"text", 0, 10}, e{"vision", 0, 0, 0, 0}, v{"vision", 0, 20, 4, 5}, b{"text", 0, 6};
  const SegmentMap m({a, e, v, b}, 36);
  EXPECT_EQ(m.segments().size(), 3u);
  EXPECT_EQ(m.modalities(), 2);
  EXPECT_EQ(m.modality_name(m.modality(12)), "vision");
  EXPECT_EQ(m.modality(35), m.modality_index("text"));
  EXPECT_EQ(m.segment(1).start, 10);
  EXPECT_TRUE(m.has_grid(m.modality_index("vision")));
  EXPECT_FALSE(m.has_grid(m.modality_index("text")));
  // MMInference's last_q per modality: the end of its last segment.
  EXPECT_EQ(m.last_rows(m.modality_index("text"), 64), std::make_pair(30, 36));
  EXPECT_EQ(m.last_rows(m.modality_index("vision"), 8), std::make_pair(22, 30));
  EXPECT_THROW(SegmentMap({a, b}, 17), std::invalid_argument);
}

TEST(Patterns, MergeRangesAndColumns) {
  std::vector<std::pair<int32_t, int32_t>> r{{10, 14}, {0, 3}, {12, 16}};
  const std::vector<int32_t> cols{1, 5, 13, 20, 40};
  std::vector<int32_t> out;
  merge_ranges_and_columns(r, cols.data(), cols.size(), 30, out);
  EXPECT_EQ(out, (std::vector<int32_t>{0, 1, 2, 5, 10, 11, 12, 13, 14, 15, 20}));
}

// A hand-worked run of MInference's convert_vertical_slash_indexes
// (seq 256, block 64, verticals {3, 70, 200}, slashes {0, 100}).
TEST(Patterns, VerticalSlashLayoutFollowsMInferenceConversion) {
  const BlockLayout L = vertical_slash_layout(256, {3, 70, 200}, {0, 100}, 64);
  ASSERT_EQ(L.row_blocks, 4);
  auto blocks = [&](int m) { return std::vector<int32_t>(L.block_offset.begin() + L.block_ptr[m], L.block_offset.begin() + L.block_ptr[m + 1]); };
  auto cols = [&](int m) { return std::vector<int32_t>(L.column_index.begin() + L.column_ptr[m], L.column_index.begin() + L.column_ptr[m + 1]); };
  EXPECT_EQ(blocks(0), (std::vector<int32_t>{0}));
  EXPECT_EQ(blocks(1), (std::vector<int32_t>{0, 64}));  // slash 100 clamps to [0, 64), merges with [64, 128)
  EXPECT_EQ(blocks(2), (std::vector<int32_t>{28, 128}));
  EXPECT_EQ(blocks(3), (std::vector<int32_t>{92, 192}));
  EXPECT_EQ(cols(0), std::vector<int32_t>{});
  EXPECT_EQ(cols(2), std::vector<int32_t>{3});          // 70 lies in [28, 92)
  EXPECT_EQ(cols(3), (std::vector<int32_t>{3, 70}));    // 200 lies in [192, 256)
  EXPECT_EQ(L.summary()["key_blocks"], 7);
}

TEST(Patterns, BlockLayoutIsASupersetOfTheExactVerticalSlash) {
  HeadPattern exact, block;
  exact.kind = block.kind = "vertical_slash";
  exact.seq = block.seq = 500;
  exact.verticals = block.verticals = {0, 1, 2, 77, 130, 301, 499};
  exact.slashes = block.slashes = {0, 1, 2, 3, 40, 41, 64, 250};
  exact.block_granular = false;
  exact.prepare();
  block.prepare();
  ASSERT_TRUE(block.has_layout());
  for (int i = 0; i < 500; i += 7) {
    const auto e = keys_of(exact, i), b = keys_of(block, i);
    expect_sorted_causal(b, i);
    const std::set<int32_t> bs(b.begin(), b.end());
    for (int32_t j : e) EXPECT_TRUE(bs.count(j)) << i << " " << j;
    // exact = verticals <= i plus i - o for slashes o <= i
    std::set<int32_t> want;
    for (int32_t v : exact.verticals)
      if (v <= i) want.insert(v);
    for (int32_t o : exact.slashes)
      if (o <= i) want.insert(i - o);
    EXPECT_EQ(std::vector<int32_t>(want.begin(), want.end()), e);
  }
}

TEST(Patterns, AShapeAndTriShape) {
  HeadPattern a;
  a.kind = "a_shape";
  a.seq = 300;
  a.n_init = 4;
  a.n_local = 10;
  a.block_granular = false;
  a.prepare();
  std::vector<int32_t> want = range(0, 4);
  for (int32_t j : range(91, 101)) want.push_back(j);
  EXPECT_EQ(keys_of(a, 100), want);
  EXPECT_EQ(keys_of(a, 5), range(0, 6));
  HeadPattern t = a;
  t.kind = "tri_shape";
  t.n_last = 20;
  t.prepare();
  EXPECT_EQ(keys_of(t, 279), keys_of(a, 279));
  EXPECT_EQ(keys_of(t, 280), range(0, 281));  // the dense tail
  // Block layout: whole 64-wide key ranges, a superset.
  HeadPattern b = a;
  b.block_granular = true;
  b.block = 64;
  b.prepare();
  const auto kb = keys_of(b, 100);
  expect_sorted_causal(kb, 100);
  EXPECT_EQ(kb.front(), 0);
  EXPECT_EQ(kb.back(), 100);
  EXPECT_GE(kb.size(), want.size());
}

TEST(Patterns, BlockSparseKeepsWholeKeyBlocks) {
  HeadPattern p;
  p.kind = "block_sparse";
  p.seq = 200;
  p.block = 64;
  p.key_blocks = {{0}, {0, 1}, {0, 2}, {1, 3}};
  p.prepare();
  std::vector<int32_t> want = range(0, 64);
  for (int32_t j : range(128, 151)) want.push_back(j);
  EXPECT_EQ(keys_of(p, 150), want);
  std::vector<int32_t> last = range(64, 128);
  for (int32_t j : range(192, 200)) last.push_back(j);
  EXPECT_EQ(keys_of(p, 199), last);
}

TEST(Patterns, GridKeepsThePatchColumnInsideTheImage) {
  auto segs = text_vision_text();  // image: tokens 10..29, 4 rows x 5 columns
  HeadPattern g;
  g.kind = "grid";
  g.seq = 36;
  g.n_init = 2;
  g.n_local = 2;
  g.segments = segs;
  g.prepare();
  // token 27 = row 3, column 2: column mates 22, 17, 12; local 26, 27; init 0, 1.
  EXPECT_EQ(keys_of(g, 27), (std::vector<int32_t>{0, 1, 12, 17, 22, 26, 27}));
  // text rows: init + local only
  EXPECT_EQ(keys_of(g, 33), (std::vector<int32_t>{0, 1, 32, 33}));
}

// Phi-3-small: block (q, k) active iff k <= q and (q - k < local or
// (k + h * max(1, vert_stride / heads) + offset) % vert_stride == 0).
TEST(Patterns, LocalStrideMatchesPhi3Rule) {
  StaticPatternParams p;
  p.pattern = "local_stride";
  p.block = 16;
  p.local_blocks = 3;
  p.vert_stride = 4;
  p.head_sliding_offset = 1;
  const int seq = 400, heads = 2;
  for (int h = 0; h < heads; ++h) {
    EXPECT_EQ(local_stride_head_shift(p, h, heads), h * 2 + 1);
    const MaskPlan plan = static_plan(p, seq, h, heads, nullptr);
    std::vector<int32_t> keys;
    for (int i = 0; i < seq; i += 13) {
      plan.row_keys(i, keys);
      std::vector<int32_t> want;
      const int qb = i / 16;
      for (int j = 0; j <= i; ++j) {
        const int kb = j / 16;
        if (qb - kb < 3 || (kb + h * 2 + 1) % 4 == 0) want.push_back(j);
      }
      EXPECT_EQ(keys, want) << "head " << h << " row " << i;
    }
  }
  p.homo_head = true;
  EXPECT_EQ(local_stride_head_shift(p, 1, heads), 1);
}

TEST(Patterns, ModalityRulesAndSkips) {
  auto segs = text_vision_text();
  StaticPatternParams p;
  p.pattern = "modality";
  p.modality_rules = {{"vision", "vision", "same_segment"}, {"vision", "text", "none"}, {"text", "nope", "none"}};
  const MaskPlan plan = static_plan(p, 36, 0, 1, segs);
  std::vector<int32_t> k;
  plan.row_keys(15, k);  // vision: its own image only
  EXPECT_EQ(k, range(10, 16));
  plan.row_keys(32, k);  // text: everything before (default causal)
  EXPECT_EQ(k, range(0, 33));
  // A plan skipping the vision keys for text queries (a K-boundary).
  MaskPlan dense;
  dense.segments = segs;
  HeadPattern d;
  d.seq = 36;
  dense.by_query = {d};
  dense.skip = {{0, 1}, {0, 0}};  // text (modality 0) skips vision (1)
  dense.boundary = "k";
  dense.row_keys(33, k);
  std::vector<int32_t> want = range(0, 10);
  for (int32_t j : range(30, 34)) want.push_back(j);
  EXPECT_EQ(k, want);
  dense.skip = {{1, 1}, {0, 0}};  // even skipping its own modality, a row keeps its diagonal
  dense.row_keys(33, k);
  EXPECT_EQ(k, std::vector<int32_t>{33});
  const CsrMask m = dense.mask(30, 6);
  EXPECT_EQ(m.rows, 6);
  EXPECT_EQ(m.cols, 36);
  EXPECT_EQ(m.nnz(), 6);
}

TEST(Patterns, BlockLabelsFullCausalPartialEmpty) {
  const CsrMask causal = CsrMask::full(128, 128, true, 0);
  BlockLabelCounts c = label_blocks(causal, 0, 64);
  EXPECT_EQ(c.causal, 2);  // the two diagonal tiles
  EXPECT_EQ(c.full, 1);    // rows 64..127 x keys 0..63
  EXPECT_EQ(c.partial + c.empty, 0);
  // Rows 64..127 keep only the local tile: the off-diagonal one is empty.
  CsrMask m;
  m.cols = 128;
  for (int i = 64; i < 128; ++i) m.add_row(range(64, i + 1));
  c = label_blocks(m, 64, 64);
  EXPECT_EQ(c.empty, 1);
  EXPECT_EQ(c.causal, 1);
  // Dropping one entry makes that tile partial.
  CsrMask p;
  p.cols = 128;
  for (int i = 64; i < 128; ++i) {
    auto r = range(0, i + 1);
    if (i == 100) r.erase(r.begin() + 5);
    p.add_row(r);
  }
  c = label_blocks(p, 64, 64);
  EXPECT_EQ(c.partial, 1);
  EXPECT_EQ(c.causal, 1);
}

TEST(Patterns, MaskPlanMasksAreCausalAndNeverEmpty) {
  HeadPattern vs;
  vs.kind = "vertical_slash";
  vs.seq = 257;
  vs.verticals = {0, 5};
  vs.slashes = {3};
  vs.prepare();
  MaskPlan plan;
  plan.by_query = {vs};
  const CsrMask m = plan.mask(0, 257);
  for (int i = 0; i < 257; ++i) {
    ASSERT_GT(m.row_nnz(i), 0);
    EXPECT_EQ(m.indices[m.indptr[i + 1] - 1], i);  // the diagonal, last
    for (int t = m.indptr[i]; t < m.indptr[i + 1]; ++t) EXPECT_LE(m.indices[t], i);
  }
  EXPECT_EQ(plan.count_nnz(), m.nnz());
}

TEST(Patterns, PatternJsonNamesItsParameters) {
  HeadPattern a;
  a.kind = "a_shape";
  a.seq = 1000;
  a.n_init = 64;
  a.n_local = 200;
  a.prepare();
  const auto j = a.to_json();
  EXPECT_EQ(j["pattern"], "a_shape");
  EXPECT_EQ(j["n_local"], 200);
  EXPECT_EQ(j["granularity"], "block");
  EXPECT_TRUE(j.contains("layout"));
  EXPECT_TRUE(a.to_json(true)["layout"].contains("block_offset"));
}
