// The long-context workload (data kind "long_context"): parsing, the head
// mix, determinism, and that each head kind's attention has its structure.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "kernels/pattern_detect.h"
#include "util/error.h"
#include "workload/workload.h"

using namespace attnsim;
using nlohmann::json;

namespace {
const std::string kSrc = ATTNSIM_SOURCE_DIR;

json small() {
  return {{"name", "lc"},      {"layers", 1},      {"heads", 4},     {"seq_len", 2048},
          {"head_dim", 64},    {"causal", true},   {"data", {{"kind", "long_context"}, {"seed", 3}}}};
}

void expect_error(const json& j, std::initializer_list<const char*> fragments) {
  try {
    WorkloadSpec::from_json(j, "w.json", "");
    FAIL() << "accepted " << j.dump();
  } catch (const InputError& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

// The last row's causal attention probabilities.
std::vector<double> last_row(const MatF& q, const MatF& k, double scale) {
  const int L = static_cast<int>(q.rows());
  const MatF p = estimate_probs(q, k, scale, {L - 1});
  return std::vector<double>(p.data(), p.data() + L);
}
}  // namespace

TEST(LongContext, ParsesAndRoundTrips) {
  const WorkloadSpec w = WorkloadSpec::from_json(small(), "w.json", "");
  EXPECT_EQ(w.data_kind, "long_context");
  EXPECT_EQ(w.long_context.seed, 3u);
  const WorkloadSpec again = WorkloadSpec::from_json(w.to_json(), "again.json", "");
  EXPECT_EQ(again.to_json(), w.to_json());
  for (const char* f : {"longctx_s4k.json", "longctx_s16k.json"}) {
    const WorkloadSpec s = WorkloadSpec::load(kSrc + "/workloads/" + f);
    EXPECT_TRUE(s.causal);
    EXPECT_EQ(s.data_kind, "long_context");
  }
}

TEST(LongContext, BadJsonGivesClearErrors) {
  json j = small();
  j["causal"] = false;
  expect_error(j, {"w.json", "causal", "set \"causal\": true"});
  j = small();
  j["seq_len"] = (1 << 20) + 1;  // the generator goes to 1M tokens; the workload reader stops there
  expect_error(j, {"seq_len"});
  j = small();
  j["head_dim"] = 16;
  expect_error(j, {"data.kind", "head_dim >= 32"});
  j = small();
  j["data"]["mix"] = {{"a_shape", 0}, {"vertical_slash", 0}, {"block_sparse", 0}, {"dense", 0}};
  expect_error(j, {"data.mix", "at least one"});
  j = small();
  j["data"]["mix"] = {{"a_shape", 1}, {"zigzag", 1}};
  expect_error(j, {"data.mix.zigzag", "unknown key"});
  j = small();
  j["data"]["mix"] = {{"dense", -1}};
  expect_error(j, {"data.mix.dense", "out of range"});
  j = small();
  j["data"]["topic_blocks"] = 0;
  expect_error(j, {"data.topic_blocks", "out of range"});
}

TEST(LongContext, DeterministicPerHead) {
  const WorkloadSpec w = WorkloadSpec::from_json(small(), "w.json", "");
  auto a = open_source(w)->layer(0, 0), b = open_source(w)->layer(0, 0);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_TRUE(a[1].q.isApprox(b[1].q));
  EXPECT_TRUE(a[1].v.isApprox(b[1].v));
  EXPECT_FALSE(a[0].k.isApprox(a[1].k));
  EXPECT_EQ(a[0].q.rows(), 2048);
  EXPECT_EQ(a[0].q.cols(), 64);
}

TEST(LongContext, HeadKindsFollowTheMix) {
  LongContextParams p;
  std::map<std::string, int> n;
  for (int h = 0; h < 400; ++h) ++n[long_context_head_kind(p, 0, h / 32, h % 32)];
  // weights 1 : 1 : 1 : 0.25
  EXPECT_NEAR(n["a_shape"] / 400.0, 1 / 3.25, 0.07);
  EXPECT_NEAR(n["dense"] / 400.0, 0.25 / 3.25, 0.04);
  p.mix_a_shape = p.mix_block_sparse = p.mix_dense = 0;
  for (int h = 0; h < 20; ++h) EXPECT_EQ(long_context_head_kind(p, 0, 0, h), "vertical_slash");
}

TEST(LongContext, EachKindHasItsStructure) {
  LongContextParams p;
  const int L = 4096, d = 64;
  const double scale = 1 / std::sqrt(64.0);
  auto head_of = [&](const std::string& kind, MatF& q, MatF& k) {
    p.mix_a_shape = kind == "a_shape";
    p.mix_vertical_slash = kind == "vertical_slash";
    p.mix_block_sparse = kind == "block_sparse";
    p.mix_dense = kind == "dense";
    MatF v;
    generate_long_context_head(p, L, d, 0, 0, 0, q, k, v);
  };
  MatF q, k;
  // A-shape: sinks plus the last 5 % of keys hold most of the last row's attention.
  head_of("a_shape", q, k);
  auto r = last_row(q, k, scale);
  double a = 0;
  for (int j = 0; j < L; ++j)
    if (j < p.sink_tokens || j >= L - L / 20) a += r[j];
  EXPECT_GT(a, 0.9);
  // Vertical-slash: columns that every row attends (verticals): the last
  // row's 64 largest keys hold much of its attention, and they include far keys.
  head_of("vertical_slash", q, k);
  r = last_row(q, k, scale);
  std::vector<double> sorted = r;
  std::sort(sorted.rbegin(), sorted.rend());
  double top = 0;
  for (int t = 0; t < 64; ++t) top += sorted[t];
  EXPECT_GT(top, 0.3);
  double far = 0;
  for (int j = p.sink_tokens; j < L / 2; ++j) far += r[j];
  EXPECT_GT(far, 0.1);
  // Dense: no key holds more than 1 % of the attention.
  head_of("dense", q, k);
  r = last_row(q, k, scale);
  EXPECT_LT(*std::max_element(r.begin(), r.end()), 0.01);
  // Block-sparse: the last row's attention sits in a few 64-key blocks.
  head_of("block_sparse", q, k);
  r = last_row(q, k, scale);
  std::vector<double> blocks(L / 64, 0.0);
  for (int j = 0; j < L; ++j) blocks[j / 64] += r[j];
  std::sort(blocks.rbegin(), blocks.rend());
  EXPECT_GT(blocks[0] + blocks[1] + blocks[2] + blocks[3] + blocks[4] + blocks[5] + blocks[6] + blocks[7], 0.8);
}
