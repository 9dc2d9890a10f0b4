// Whole runs with the DynamiQK mask units through simulate(): one
// elaboration per test process.
#include <gtest/gtest.h>

#include "sanger/sanger_config.h"

#include "dynamiqk/dynamiqk_config.h"

#include "controller/controller.h"
#include "run/simulation.h"
#include "kernels/pattern_detect.h"
#include "kernels/pattern_static.h"
#include "report/report.h"
#include "workload/multimodal.h"

using namespace attnsim;
using nlohmann::json;

namespace {
const std::string kSrc = ATTNSIM_SOURCE_DIR;

WorkloadSpec long_context(int heads, int seq) {
  const json w = {{"name", "lc"},         {"layers", 1},       {"heads", heads}, {"seq_len", seq},
                  {"head_dim", 64},       {"causal", true},
                  {"data", {{"kind", "long_context"}, {"seed", 5}, {"topic_blocks", 4}}}};
  return WorkloadSpec::from_json(w, "lc.json", "");
}
// DRAM bytes a run reads when K and V are not resident: per tile the Q
// rows, and K and V of the key blocks its mask touches; plus `mask_k_keys`
// keys of K per head for the mask unit.
int64_t reads_without_resident_kv(const ArchConfig& arch, const WorkloadSpec& w,
                                  const std::vector<std::function<CsrMask(int, int)>>& head_masks, int64_t mask_k_keys) {
  const int QT = arch.query_tile_rows(w.seq_len, w.head_dim), block = arch.encoder.get<PackSplitConfig>().segment_width;
  const int64_t row_bytes = static_cast<int64_t>(w.head_dim) * arch.pe_array.number_format.bytes();
  int64_t bytes = 0;
  for (const auto& mask_of : head_masks) {
    bytes += mask_k_keys * row_bytes;
    for (int row0 = 0; row0 < w.seq_len; row0 += QT) {
      const CsrMask m = mask_of(row0, std::min(QT, w.seq_len - row0));
      std::vector<int64_t> kept((w.seq_len + block - 1) / block, 0);
      m.count_blocks(0, m.rows, block, kept);
      bytes += m.rows * row_bytes + 2 * block * row_bytes * std::count_if(kept.begin(), kept.end(), [](int64_t k) { return k > 0; });
    }
  }
  return bytes;
}
}  // namespace

// K and V do not fit on chip (2048 keys x 64 x 2 B > a 32 KiB slot): every
// tile fetches the key blocks its mask keeps; a static mask unit reads no K
// itself, the detector all of K once per head (estimation and block
// pooling), not again for every tile. (One simulation per test process.)
TEST(DynamiqkSim, DramReadsOfKFollowTheStaticMask) {
  const WorkloadSpec w = long_context(2, 2048);
  const ArchConfig stat = ArchConfig::load(kSrc + "/configs/arch/dynamiqk_local_stride.json");
  const RunStats a = simulate(stat, w, {});
  ASSERT_FALSE(a.kv_resident);
  std::vector<std::function<CsrMask(int, int)>> masks;
  for (int h = 0; h < 2; ++h) {
    const MaskPlan plan = static_plan(stat.mask_unit.get<StaticPatternConfig>().pattern, w.seq_len, h, 2, nullptr);
    masks.push_back([plan](int row0, int rows) { return plan.mask(row0, rows); });
  }
  EXPECT_EQ(a.total.dram_bytes_read, reads_without_resident_kv(stat, w, masks, 0));
}

TEST(DynamiqkSim, DetectorReadsKOncePerHead) {
  const WorkloadSpec w = long_context(2, 2048);
  std::vector<std::function<CsrMask(int, int)>> masks;
  const ArchConfig det = ArchConfig::load(kSrc + "/configs/arch/dynamiqk_sanger.json");
  const RunStats b = simulate(det, w, {});
  ASSERT_FALSE(b.kv_resident);
  const std::vector<HeadTensors> heads = open_source(w)->layer(0, 0);
  for (const auto& h : heads) {
    const MaskPlan plan = detect_head(h.q, h.k, w.scale(), workload_segments(w), det.mask_unit.get<PatternDetectorConfig>().detector).plan;
    masks.push_back([plan](int row0, int rows) { return plan.mask(row0, rows); });
  }
  EXPECT_EQ(b.total.dram_bytes_read, reads_without_resident_kv(det, w, masks, w.seq_len));
}

TEST(DynamiqkSim, DetectorInFrontOfTheSangerArray) {
  const ArchConfig arch = ArchConfig::load(kSrc + "/configs/arch/dynamiqk_sanger.json");
  const WorkloadSpec w = long_context(4, 4096);
  SimulationOptions o;
  o.accuracy_rows = 128;
  const RunStats s = simulate(arch, w, o);
  ASSERT_EQ(s.layers.size(), 1u);
  const auto& heads = s.layers[0].heads;
  ASSERT_EQ(heads.size(), 4u);
  for (const auto& h : heads) {
    const std::string want = long_context_head_kind(w.long_context, 0, 0, h["head"].get<int>());
    EXPECT_EQ(h["pattern"], want) << h.dump();
  }
  const auto& mask = s.total.units.at("mask_unit");
  EXPECT_GT(mask.stages.at("estimate_qk"), 0);
  EXPECT_GT(mask.stages.at("mask_emit"), 0);
  EXPECT_EQ(mask.counts.at("heads"), 4);
  EXPECT_EQ(s.unit_pes.at("mask_unit"), 32 * 32);
  // The PE array computes exactly the kept entries (scores twice: for the row maximum, then for exp).
  EXPECT_EQ(s.total.units.at("pe_array").macs, 3 * s.total.accuracy.kept * 64);  // row-maximum SDDMM, SDDMM, SpMM
  EXPECT_LT(s.total.accuracy.density(), 0.5);
  EXPECT_GT(s.total.accuracy.recall(), 0.8);
  for (const auto& [name, u] : s.total.units) EXPECT_LE(u.cycles, s.total.cycles) << name;
  const json r = make_report(arch, w, s, {1.0, 10.0});
  EXPECT_TRUE(r.contains(json::json_pointer("/layers/0/heads/0/mass_kept")));
  EXPECT_TRUE(r.contains(json::json_pointer("/total/units/mask_unit/stages/index_build")));
}

TEST(DynamiqkSim, StaticLocalStrideKeepsThePhi3Density) {
  const ArchConfig arch = ArchConfig::load(kSrc + "/configs/arch/dynamiqk_local_stride.json");
  const WorkloadSpec w = long_context(2, 2048);
  SimulationOptions o;
  o.accuracy_rows = 64;
  const RunStats s = simulate(arch, w, o);
  int64_t want = 0;
  for (int h = 0; h < 2; ++h) want += static_plan(arch.mask_unit.get<StaticPatternConfig>().pattern, 2048, h, 2, nullptr).count_nnz();
  EXPECT_EQ(s.total.accuracy.kept, want);
  EXPECT_EQ(s.total.units.at("mask_unit").counts.at("blocks_partial"), 0);
  EXPECT_GT(s.total.units.at("mask_unit").counts.at("blocks_full"), 0);
}

TEST(DynamiqkSim, MultimodalHeadsReportTheirBoundaries) {
  ArchConfig arch = ArchConfig::load(kSrc + "/configs/arch/dynamiqk_systolic.json");
  auto& d = arch.mask_unit.get<PatternDetectorConfig>().detector;  // the small-sequence settings of docs/dynamiqk.md
  d.budget = 0.3;
  d.init_columns = d.min_vertical = d.n_init = 4;
  d.local_diagonals = d.min_slash = 16;
  const WorkloadSpec w = WorkloadSpec::load(kSrc + "/workloads/multimodal_small.json");
  const RunStats s = simulate(arch, w, {});
  ASSERT_EQ(s.layers[0].heads.size(), 8u);
  for (const auto& h : s.layers[0].heads) {
    const std::string kind = multimodal_head_kind(w.multimodal, 0, 0, h["head"].get<int>());
    const std::string want = kind == "no_boundary" ? "none" : kind.substr(0, kind.find('_'));
    EXPECT_EQ(h["boundary"], want) << h.dump();
  }
  EXPECT_GT(s.total.accuracy.recall(), 0.85);
}
