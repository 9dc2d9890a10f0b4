// DynamiQK mask units: every latency formula on hand-computed cases, and the
// units behind their TLM sockets (detection on a head's first tile, cached
// plan for the others, static masks).
#include <gtest/gtest.h>

#include <tlm_utils/simple_initiator_socket.h>

#include "dynamiqk/dynamiqk_timing.h"
#include "dynamiqk/pattern_detector_unit.h"
#include "dynamiqk/static_pattern_unit.h"
#include "kernels/pattern_static.h"
#include "util/error.h"

using namespace attnsim;

namespace {

// Sends its jobs one after the other, recording each annotated delay.
struct Driver : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Driver> socket;
  std::vector<MaskJob>* jobs = nullptr;
  std::vector<sc_core::sc_time> delays;
  SC_HAS_PROCESS(Driver);
  explicit Driver(sc_core::sc_module_name n) : sc_module(n), socket("socket") { SC_THREAD(run); }
  void run() {
    for (auto& j : *jobs) {
      const sc_core::sc_time t0 = sc_core::sc_time_stamp();
      send_job(socket, j);
      delays.push_back(sc_core::sc_time_stamp() - t0);
    }
  }
};

WorkloadSpec long_context(int seq, bool causal = true) {
  const nlohmann::json w = {{"name", "lc"},     {"layers", 1},       {"heads", 2},
                            {"seq_len", seq},   {"head_dim", 32},    {"causal", causal},
                            {"data", {{"kind", "long_context"}, {"seed", 4}}}};
  if (!causal) {
    WorkloadSpec s = WorkloadSpec::from_json({{"name", "x"},
                                              {"layers", 1},
                                              {"heads", 2},
                                              {"seq_len", seq},
                                              {"head_dim", 32},
                                              {"data", {{"kind", "synthetic"}}}},
                                             "x.json", "");
    return s;
  }
  return WorkloadSpec::from_json(w, "lc.json", "");
}

std::vector<MaskJob> tiles(const HeadTensors& h, int seq, int rows, int layer, int head, double scale) {
  std::vector<MaskJob> jobs;
  for (int r0 = 0; r0 < seq; r0 += rows) {
    MaskJob j;
    j.head = &h;
    j.layer = layer;
    j.head_index = head;
    j.row0 = r0;
    j.rows = std::min(rows, seq - r0);
    j.causal = true;
    j.scale = scale;
    jobs.push_back(j);
  }
  return jobs;
}

}  // namespace

// SpAtten's round cost ceil(n/P) + 3, halving rounds until <= P remain, then
// ceil(k/P) to emit (own model on top).
TEST(DynamiqkTiming, TopKQuickSelect) {
  EXPECT_EQ(topk_cycles(64, 10, 16), 7 + 5 + 4 + 1);
  EXPECT_EQ(topk_cycles(10, 3, 16), 4 + 1);
  EXPECT_EQ(topk_cycles(20, 20, 16), 2);  // nothing to select: stream the n indices
  EXPECT_EQ(topk_cycles(0, 5, 16), 0);
  // n = 4096: 259 + 131 + 67 + 35 + 19 + 11 + 7 + 5 + 4 = 538 cycles of rounds.
  EXPECT_EQ(topk_cycles(4096, 30, 16), 538 + 2);
  EXPECT_EQ(topk_cycles(4096, 50, 16), 538 + 4);
}

TEST(DynamiqkTiming, DetectorHeadWork) {
  DetectorActivity a;
  a.estimate_gemms = {{64, 4096}};
  a.probabilities = 262144;
  a.sum_updates = 524288;
  a.pooled_tokens = 8192;
  a.pooled_blocks = 64;
  a.topks = {{4096, 30}, {4096, 50}};
  a.candidate_entries = 100000;
  a.index_items = 1000;
  a.row_blocks = 64;
  DetectorHw hw;  // 32 x 32 array, 32 lanes, latency 8, P 16, 16 index lanes
  const UnitWork w = detector_head_work(a, 64, hw);
  // SCALE-Sim v3 OS folds: ceil(64/32) * ceil(4096/32) = 256 folds of 32 + 32 + 64 - 2 = 126.
  EXPECT_EQ(w.stages.at("estimate_qk"), 256 * 126);
  EXPECT_EQ(w.stages.at("softmax"), 262144 / 32 + 8);
  EXPECT_EQ(w.stages.at("score_sums"), 524288 / 64);
  EXPECT_EQ(w.stages.at("block_pool"), 8192 * 64 / 1024 + 4 * 126);
  EXPECT_EQ(w.stages.at("topk"), 540 + 542);
  EXPECT_EQ(w.stages.at("select"), 3125);
  EXPECT_EQ(w.stages.at("index_build"), 63 + 64);
  EXPECT_EQ(w.cycles, 32256 + 8200 + 8192 + 1016 + 1082 + 3125 + 127);
  EXPECT_EQ(w.macs, 64LL * 4096 * 64 + 64LL * 64 * 64);
  EXPECT_EQ(w.counts.at("estimation_rows"), 64);
}

TEST(DynamiqkTiming, MaskEmission) {
  EXPECT_EQ(mask_emit_work(1000, 64).cycles, 16);
  EXPECT_EQ(mask_emit_work(1000, 64).stages.at("mask_emit"), 16);
  EXPECT_EQ(mask_emit_work(0, 64).cycles, 0);
}

TEST(DynamiqkUnits, DetectorDetectsOnTheFirstTileAndCachesThePlan) {
  const WorkloadSpec w = long_context(1024);
  const HeadTensors h = open_source(w)->layer(0, 0)[1];
  PatternDetectorConfig c;
  c.array.rows = c.array.cols = 32;
  c.softmax_lanes = 32;
  c.detector.eval_groups = 2;
  c.detector.budget = 0.2;
  PatternDetectorUnit unit("detector", c, w, 0.5);  // 2 ns per cycle
  std::vector<MaskJob> jobs = tiles(h, 1024, 64, 0, 1, w.scale());
  Driver drv("drv");
  drv.jobs = &jobs;
  drv.socket.bind(unit.socket);
  sc_core::sc_start();

  const HeadDetection det = detect_head(h.q, h.k, w.scale(), nullptr, c.detector);
  DetectorHw hw;
  hw.index_lanes = c.index_lanes;
  const UnitWork head = detector_head_work(det.activity, 32, hw);
  ASSERT_EQ(jobs.size(), 16u);
  EXPECT_EQ(jobs[0].head_info["pattern"], det.info["pattern"]);
  EXPECT_TRUE(jobs[1].head_info.is_null());
  Cycles emitted = 0;
  for (size_t t = 0; t < jobs.size(); ++t) {
    const CsrMask want = det.plan.mask(jobs[t].row0, jobs[t].rows);
    EXPECT_EQ(jobs[t].prediction.mask.indices, want.indices) << t;
    EXPECT_EQ(jobs[t].prediction.mask.indptr, want.indptr) << t;
    const Cycles emit = mask_emit_work(want.nnz(), c.emit_lanes).cycles;
    emitted += emit;
    EXPECT_EQ(jobs[t].work.cycles, (t == 0 ? head.cycles : 0) + emit) << t;
    EXPECT_EQ(drv.delays[t], sc_core::SC_ZERO_TIME);  // one source of time: the controller schedules job.work
  }
  EXPECT_EQ(jobs[0].work.stages.at("estimate_qk"), head.stages.at("estimate_qk"));
  EXPECT_EQ(jobs[0].work.counts.at("heads"), 1);
  EXPECT_EQ(unit.busy_cycles(), head.cycles + emitted);
  EXPECT_EQ(unit.cached_heads(), 0u);  // dropped after the head's last tile
  EXPECT_EQ(unit.pe_count(), 1024);
}

TEST(DynamiqkUnits, StaticLocalStrideUnitEmitsPhi3Masks) {
  const WorkloadSpec w = long_context(512);
  const auto layer = open_source(w)->layer(0, 0);
  StaticPatternConfig c;
  c.pattern.pattern = "local_stride";
  c.pattern.local_blocks = 2;
  c.pattern.vert_stride = 4;
  StaticPatternUnit unit("static_mask", c, w, 1.0);
  std::vector<MaskJob> jobs = tiles(layer[0], 512, 128, 0, 0, w.scale());
  const auto more = tiles(layer[1], 512, 128, 0, 1, w.scale());
  jobs.insert(jobs.end(), more.begin(), more.end());
  Driver drv("drv");
  drv.jobs = &jobs;
  drv.socket.bind(unit.socket);
  sc_core::sc_start();
  for (size_t t = 0; t < jobs.size(); ++t) {
    const int head = jobs[t].head_index;
    const CsrMask want = static_plan(c.pattern, 512, head, 2, nullptr).mask(jobs[t].row0, jobs[t].rows);
    EXPECT_EQ(jobs[t].prediction.mask.indices, want.indices);
    EXPECT_EQ(jobs[t].work.cycles, mask_emit_work(want.nnz(), 64).cycles);
    const BlockLabelCounts l = label_blocks(want, jobs[t].row0, 64);
    EXPECT_EQ(jobs[t].work.counts.at("blocks_full"), l.full);
    EXPECT_EQ(jobs[t].work.counts.at("blocks_partial"), 0);  // a block mask never needs an element mask
  }
  EXPECT_EQ(jobs[0].head_info["pattern"], "local_stride");
  EXPECT_EQ(jobs[4].head_info["head_shift"], 2);  // head 1: 1 * max(1, 4 / 2)
}

TEST(DynamiqkUnits, NonCausalWorkloadIsRejected) {
  PatternDetectorConfig c;
  EXPECT_THROW(PatternDetectorUnit("d", c, long_context(256, false), 1.0), InputError);
}
