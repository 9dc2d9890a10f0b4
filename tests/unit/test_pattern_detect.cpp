// The online pattern detector (kernels/pattern_detect.h): its estimation
// steps on hand-made inputs, and the pattern it picks on workloads built to
// show one pattern, on mixed heads, on multimodal heads, and on edge cases.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/pattern_detect.h"
#include "workload/workload.h"

using namespace attnsim;

namespace {

const std::string kSrc = ATTNSIM_SOURCE_DIR;

// The shipped presets' detector (configs/arch/dynamiqk_*.json).
DetectorParams preset() {
  DetectorParams p;
  p.eval_groups = 4;
  return p;
}

// For sequences of a few hundred tokens MInference's floors (30 forced
// columns, 100 forced diagonals) cover most of the sequence: scaled down.
DetectorParams small_sequence() {
  DetectorParams p = preset();
  p.budget = 0.3;
  p.init_columns = 4;
  p.min_vertical = 4;
  p.local_diagonals = 16;
  p.min_slash = 16;
  p.n_init = 4;
  return p;
}

struct Head {
  MatF q, k, v;
};

Head long_context_head(const LongContextParams& p, int seq, int dim, int layer, int head) {
  Head h;
  generate_long_context_head(p, seq, dim, 0, layer, head, h.q, h.k, h.v);
  return h;
}

LongContextParams only(const std::string& kind, uint64_t seed) {
  LongContextParams p;
  p.seed = seed;
  p.mix_a_shape = kind == "a_shape";
  p.mix_vertical_slash = kind == "vertical_slash";
  p.mix_block_sparse = kind == "block_sparse";
  p.mix_dense = kind == "dense";
  return p;
}

void expect_valid_plan(const MaskPlan& plan, int seq) {
  std::vector<int32_t> keys;
  for (int i = 0; i < seq; ++i) {
    plan.row_keys(i, keys);
    ASSERT_FALSE(keys.empty()) << i;
    EXPECT_EQ(keys.back(), i);
    for (size_t t = 1; t < keys.size(); ++t) ASSERT_LT(keys[t - 1], keys[t]);
  }
}

}  // namespace

TEST(PatternDetect, TopKKeepsTheLargestLowerIndexOnTies) {
  const std::vector<float> s{1, 5, 3, 5, 0, 5};
  EXPECT_EQ(top_k_indices(s, 2), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(top_k_indices(s, 4), (std::vector<int32_t>{1, 2, 3, 5}));
  EXPECT_EQ(top_k_indices(s, 10).size(), 6u);
  EXPECT_TRUE(top_k_indices(s, 0).empty());
}

TEST(PatternDetect, VerticalAndSlashScoresAreColumnAndDiagonalSums) {
  // Rows 3 and 4 of a 5-token head.
  MatF p = MatF::Zero(2, 5);
  p.row(0) << 0.5f, 0.1f, 0.1f, 0.3f, 0;
  p.row(1) << 0.4f, 0.2f, 0.0f, 0.1f, 0.3f;
  const auto sc = vertical_slash_scores(p, {3, 4}, 0, 0);
  EXPECT_FLOAT_EQ(sc.vertical[0], 0.9f);
  EXPECT_FLOAT_EQ(sc.vertical[3], 0.4f);
  EXPECT_FLOAT_EQ(sc.slash[0], 0.6f);  // (3,3) + (4,4)
  EXPECT_FLOAT_EQ(sc.slash[1], 0.2f);  // (3,2) + (4,3)
  EXPECT_FLOAT_EQ(sc.slash[3], 0.7f);  // (3,0) + (4,1)
  EXPECT_FLOAT_EQ(sc.slash[4], 0.4f);  // (4,0)
  const VerticalSlash vs = pick_vertical_slash(sc, 1, 2);
  EXPECT_EQ(vs.verticals, std::vector<int32_t>{0});
  EXPECT_EQ(vs.slashes, (std::vector<int32_t>{0, 3}));
  // Forced: the first columns and the nearest diagonals always win.
  const auto forced = vertical_slash_scores(p, {3, 4}, 2, 2);
  EXPECT_EQ(pick_vertical_slash(forced, 2, 2).verticals, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(pick_vertical_slash(forced, 2, 2).slashes, (std::vector<int32_t>{0, 1}));
}

TEST(PatternDetect, EstimationRowsAreCausalSoftmax) {
  MatF q = MatF::Random(10, 4), k = MatF::Random(10, 4);
  const MatF p = estimate_probs(q, k, 0.5, {2, 3, 9});
  for (int r = 0; r < 3; ++r) EXPECT_NEAR(p.row(r).sum(), 1.0, 1e-5);
  EXPECT_EQ(p(0, 3), 0.f);
  const float s00 = q.row(2).dot(k.row(0)) * 0.5f, s01 = q.row(2).dot(k.row(1)) * 0.5f;
  EXPECT_NEAR(p(0, 0) / p(0, 1), std::exp(s00 - s01), 1e-4);
}

TEST(PatternDetect, BlockSparseEstimationFindsTheSameTopicBlocks) {
  // Blocks 0 and 2 share a direction, 1 and 3 another.
  MatF q = MatF::Zero(256, 4), k = MatF::Zero(256, 4);
  for (int i = 0; i < 256; ++i) {
    const int topic = (i / 64) % 2;
    q(i, topic) = k(i, topic) = 3;
  }
  const auto b = estimate_block_sparse(q, k, 1.0, 64, 2);
  EXPECT_EQ(b[3], (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(b[2], (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(b[0], std::vector<int32_t>{0});
}

TEST(PatternDetect, PicksThePatternEachLongContextHeadWasBuiltWith) {
  for (const std::string& kind : long_context_kinds()) {
    const LongContextParams p = only(kind, 21);
    for (int h = 0; h < 3; ++h) {
      const Head head = long_context_head(p, 4096, 64, 0, h);
      const HeadDetection d = detect_head(head.q, head.k, 0.125, nullptr, preset());
      EXPECT_EQ(d.info["pattern"], kind) << "head " << h << ": " << d.info["candidates"].dump();
      if (kind != "dense") {
        EXPECT_GT(d.mass, 0.7) << kind;
        // Sized to the budget (10 % of the causal entries, 10 % slack).
        EXPECT_LE(d.info["density"].get<double>(), 0.1 * 1.1 + 0.01) << kind;
      }
    }
  }
}

TEST(PatternDetect, PicksTheRightPatternOnMixedHeads) {
  const WorkloadSpec w = WorkloadSpec::load(kSrc + "/workloads/longctx_s4k.json");
  int right = 0, right_last_rows = 0, n = 0;
  DetectorParams last_rows = preset();
  last_rows.eval_groups = 1;  // MInference's choice on the last 64 rows only
  for (int l = 0; l < w.layers; ++l)
    for (int h = 0; h < w.heads; ++h, ++n) {
      const Head head = long_context_head(w.long_context, w.seq_len, w.head_dim, l, h);
      const std::string want = long_context_head_kind(w.long_context, 0, l, h);
      right += detect_head(head.q, head.k, w.scale(), nullptr, preset()).info["pattern"] == want;
      right_last_rows += detect_head(head.q, head.k, w.scale(), nullptr, last_rows).info["pattern"] == want;
    }
  EXPECT_EQ(right, n);
  EXPECT_GE(right_last_rows, n - 2);
}

TEST(PatternDetect, ExactGranularityAlsoPicksTheRightPattern) {
  DetectorParams p = preset();
  p.block_granular = false;
  for (const std::string kind : {"a_shape", "vertical_slash"}) {
    const Head head = long_context_head(only(kind, 4), 2048, 64, 0, 0);
    const HeadDetection d = detect_head(head.q, head.k, 0.125, nullptr, p);
    EXPECT_EQ(d.info["pattern"], kind);
    EXPECT_EQ(d.info["granularity"], "exact");
    EXPECT_FALSE(d.info.contains("layout"));
  }
}

TEST(PatternDetect, SequenceShorterThanLastQ) {
  const Head head = long_context_head(only("a_shape", 2), 40, 32, 0, 0);
  const HeadDetection d = detect_head(head.q, head.k, 1 / std::sqrt(32.0), nullptr, preset());
  EXPECT_EQ(d.info["estimation_rows"], 40);
  EXPECT_EQ(d.activity.estimate_gemms.size(), 1u);
  EXPECT_EQ(d.activity.estimate_gemms[0].first, 40);
  EXPECT_EQ(d.activity.estimate_gemms[0].second, 40);
  expect_valid_plan(d.plan, 40);
  // One token: the only key is itself.
  const Head one = long_context_head(only("dense", 2), 1, 32, 0, 0);
  const HeadDetection d1 = detect_head(one.q, one.k, 1 / std::sqrt(32.0), nullptr, preset());
  const CsrMask m = d1.plan.mask(0, 1);
  EXPECT_EQ(m.indices, std::vector<int32_t>{0});
}

TEST(PatternDetect, GridOnASingleModalityImageSequence) {
  MultimodalParams p;
  p.segments = {Segment{"vision", 0, 32 * 32, 32, 32}};
  p.mix_no_boundary = p.mix_k_boundary = p.mix_2d_boundary = 0;  // q_boundary: images show the Grid
  const auto segs = std::make_shared<const SegmentMap>(p.segments, 1024);
  for (int h = 0; h < 2; ++h) {
    Head head;
    generate_multimodal_head(p, *segs, 64, 0, 0, h, head.q, head.k, head.v);
    const HeadDetection d = detect_head(head.q, head.k, 0.125, segs, small_sequence());
    EXPECT_EQ(d.info["pattern"], "grid") << d.info["candidates"].dump();
    EXPECT_EQ(d.info["boundary"], "none");
    EXPECT_EQ(d.info["strides"], std::vector<int>{32});
    expect_valid_plan(d.plan, 1024);
  }
}

TEST(PatternDetect, EmptySegmentsAreIgnored) {
  MultimodalParams p;
  p.segments = {Segment{"text", 0, 0}, Segment{"vision", 0, 256, 16, 16}, Segment{"text", 0, 128},
                Segment{"vision", 0, 0, 0, 0}, Segment{"text", 0, 64}};
  const auto segs = std::make_shared<const SegmentMap>(p.segments, 448);
  EXPECT_EQ(segs->segments().size(), 3u);
  Head head;
  generate_multimodal_head(p, *segs, 64, 0, 0, 0, head.q, head.k, head.v);
  const HeadDetection d = detect_head(head.q, head.k, 0.125, segs, small_sequence());
  expect_valid_plan(d.plan, 448);
  EXPECT_TRUE(d.info.contains("boundary"));
}

TEST(PatternDetect, FindsTheInterModalityBoundaries) {
  for (const std::string file : {"multimodal_small.json", "multimodal_frames.json"}) {
    const WorkloadSpec w = WorkloadSpec::load(kSrc + "/workloads/" + file);
    const auto segs = workload_segments(w);
    for (const std::string& kind : multimodal_kinds()) {
      MultimodalParams p = w.multimodal;
      p.mix_no_boundary = kind == "no_boundary";
      p.mix_q_boundary = kind == "q_boundary";
      p.mix_k_boundary = kind == "k_boundary";
      p.mix_2d_boundary = kind == "2d_boundary";
      const std::string want = kind.substr(0, kind.find('_')) == "no" ? "none" : kind.substr(0, kind.find('_'));
      for (int h = 0; h < 3; ++h) {
        Head head;
        generate_multimodal_head(p, *segs, w.head_dim, 0, 0, h, head.q, head.k, head.v);
        const HeadDetection d = detect_head(head.q, head.k, w.scale(), segs, small_sequence());
        EXPECT_EQ(d.info["boundary"], want) << file << " " << kind << " head " << h << ": "
                                             << d.info["boundary_mass"].dump() << " "
                                             << d.info["modality_shares"].dump();
        if (want == "q" || want == "2d") {
          EXPECT_EQ(d.info["by_modality"]["vision"]["pattern"], "grid") << file << " " << kind;
        }
        if (want == "k" || want == "2d") {
          EXPECT_TRUE(d.info.contains("skip"));
        }
        expect_valid_plan(d.plan, w.seq_len);
      }
    }
  }
}

TEST(PatternDetect, FollowsAPatternFileChoice) {
  const Head head = long_context_head(only("vertical_slash", 8), 4096, 64, 0, 1);
  const HeadDetection online = detect_head(head.q, head.k, 0.125, nullptr, preset());
  ASSERT_EQ(online.info["pattern"], "vertical_slash");
  const HeadDetection fixed = detect_head(head.q, head.k, 0.125, nullptr, preset(), &online.info);
  EXPECT_EQ(fixed.info["pattern"], "vertical_slash");
  EXPECT_EQ(fixed.info["vertical_size"], online.info["vertical_size"]);
  EXPECT_EQ(fixed.info["slash_size"], online.info["slash_size"]);
  EXPECT_EQ(fixed.activity.candidates_evaluated, 0);
  EXPECT_EQ(fixed.plan.mask(3000, 64).indices, online.plan.mask(3000, 64).indices);
  // A choice naming another pattern is followed, its indices estimated online.
  const nlohmann::json a = {{"pattern", "a_shape"}, {"n_init", 16}, {"n_local", 100}};
  const HeadDetection forced = detect_head(head.q, head.k, 0.125, nullptr, preset(), &a);
  EXPECT_EQ(forced.info["pattern"], "a_shape");
  EXPECT_EQ(forced.info["n_local"], 100);
}
