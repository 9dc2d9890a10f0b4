// The multimodal workload (data kind "multimodal"): segment parsing and
// errors, and the attention structure of each boundary kind.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/pattern_detect.h"
#include "util/error.h"
#include "workload/workload.h"

using namespace attnsim;
using nlohmann::json;

namespace {
const std::string kSrc = ATTNSIM_SOURCE_DIR;

json small() {
  return {{"name", "mm"},
          {"layers", 1},
          {"heads", 2},
          {"seq_len", 64 + 256},
          {"head_dim", 64},
          {"causal", true},
          {"data",
           {{"kind", "multimodal"},
            {"segments", json::array({{{"kind", "text"}, {"tokens", 64}}, {{"kind", "vision"}, {"grid", {16, 16}}}})}}}};
}

void expect_error(const json& j, std::initializer_list<const char*> fragments) {
  try {
    WorkloadSpec::from_json(j, "w.json", "");
    FAIL() << "accepted " << j.dump();
  } catch (const InputError& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Multimodal, ParsesSegmentsAndRoundTrips) {
  const WorkloadSpec w = WorkloadSpec::from_json(small(), "w.json", "");
  ASSERT_EQ(w.multimodal.segments.size(), 2u);
  EXPECT_EQ(w.multimodal.segments[1].grid_w, 16);
  EXPECT_EQ(w.multimodal.segments[1].length, 256);
  const auto segs = workload_segments(w);
  EXPECT_EQ(segs->modalities(), 2);
  EXPECT_EQ(segs->modality_name(segs->modality(100)), "vision");
  const WorkloadSpec again = WorkloadSpec::from_json(w.to_json(), "again.json", "");
  EXPECT_EQ(again.to_json(), w.to_json());
  for (const char* f : {"multimodal_small.json", "multimodal_frames.json"}) {
    const WorkloadSpec s = WorkloadSpec::load(kSrc + "/workloads/" + f);
    EXPECT_EQ(workload_segments(s)->seq(), s.seq_len) << f;
  }
  // Other data kinds: one text segment.
  const WorkloadSpec lc = WorkloadSpec::load(kSrc + "/workloads/longctx_s4k.json");
  EXPECT_EQ(workload_segments(lc)->modalities(), 1);
}

TEST(Multimodal, BadSegmentsGiveClearErrors) {
  json j = small();
  j["seq_len"] = 300;
  expect_error(j, {"data.segments", "add up to 320 tokens, but seq_len is 300"});
  j = small();
  j["data"]["segments"][1] = {{"kind", "vision"}, {"tokens", 256}};
  expect_error(j, {"data.segments[1].grid", "patch grid"});
  j = small();
  j["data"]["segments"][1]["grid"] = {16};
  expect_error(j, {"data.segments[1].grid", "[rows, cols]"});
  j = small();
  j["data"]["segments"][1]["tokens"] = 100;
  expect_error(j, {"data.segments[1].tokens", "does not match grid"});
  j = small();
  j["data"]["segments"][0]["lang"] = "en";
  expect_error(j, {"data.segments[0].lang", "unknown key"});
  j = small();
  j["data"]["segments"][0] = 64;
  expect_error(j, {"data.segments[0]", "expected a JSON object"});
  j = small();
  j["data"]["segments"] = json::array();
  expect_error(j, {"data.segments", "non-empty array"});
  j = small();
  j["data"]["segments"][0].erase("kind");
  expect_error(j, {"data.segments[0].kind", "missing"});
  j = small();
  j["data"]["mix"] = {{"q_boundary", "yes"}};
  expect_error(j, {"data.mix.q_boundary", "expected a number"});
  j = small();
  j["causal"] = false;
  expect_error(j, {"causal"});
}

TEST(Multimodal, EmptySegmentsAreAllowed) {
  json j = small();
  j["data"]["segments"].push_back({{"kind", "text"}, {"tokens", 0}});
  j["data"]["segments"].push_back({{"kind", "vision"}, {"grid", {0, 16}}});
  const WorkloadSpec w = WorkloadSpec::from_json(j, "w.json", "");
  EXPECT_EQ(workload_segments(w)->segments().size(), 2u);
  EXPECT_EQ(open_source(w)->layer(0, 0)[0].q.rows(), 320);
}

TEST(Multimodal, BoundaryKindsShapeTheAttention) {
  json j = small();
  j["seq_len"] = 64 + 256 + 32;
  j["data"]["segments"].push_back({{"kind", "text"}, {"tokens", 32}});
  WorkloadSpec w = WorkloadSpec::from_json(j, "w.json", "");
  const auto segs = workload_segments(w);
  const double scale = 1 / std::sqrt(64.0);
  auto probs = [&](const std::string& kind, const std::vector<int>& rows) {
    MultimodalParams p = w.multimodal;
    p.mix_no_boundary = kind == "no_boundary";
    p.mix_q_boundary = kind == "q_boundary";
    p.mix_k_boundary = kind == "k_boundary";
    p.mix_2d_boundary = kind == "2d_boundary";
    MatF q, k, v;
    generate_multimodal_head(p, *segs, 64, 0, 0, 0, q, k, v);
    return estimate_probs(q, k, scale, rows);
  };
  // Vision patch 64 + 10*16 + 5 (row 10, column 5): in a Q-boundary head it
  // attends its column (offsets 0, 16, 32, ... inside the image).
  const int i = 64 + 10 * 16 + 5, last_text = 351;
  MatF p = probs("q_boundary", {i});
  double column = 0;
  for (int j = i; j >= 64; j -= 16) column += p(0, j);
  EXPECT_GT(column, 0.7);
  // K-boundary: nobody attends the image.
  p = probs("k_boundary", {i, last_text});
  for (int r = 0; r < 2; ++r) EXPECT_LT(p.row(r).segment(64, 256).sum(), 0.01);
  // 2D-boundary: patches ignore the text; text attends the image's row starts.
  p = probs("2d_boundary", {i, last_text});
  EXPECT_LT(p.row(0).head(64).sum(), 0.01);
  double starts = 0;
  for (int j = 64; j < 320; j += 16) starts += p(1, j);
  EXPECT_GT(starts, 0.2);
}
