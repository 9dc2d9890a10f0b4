// The up-front size estimate of a run (frontend/dse/run_estimate.cpp, own model) on
// hand-computed cases, and where its refusals begin.
#include <gtest/gtest.h>

#include "config/arch_config.h"
#include "dse/run_estimate.h"
#include "util/error.h"

using namespace attnsim;

namespace {
WorkloadSpec spec(int layers, int heads, int seq, int dim, bool causal) {
  WorkloadSpec w;
  w.file = "w.json";
  w.layers = layers, w.heads = heads, w.seq_len = seq, w.head_dim = dim, w.causal = causal;
  return w;
}
const ArchConfig& sanger() {
  static const ArchConfig a = ArchConfig::load(std::string(ATTNSIM_SOURCE_DIR) + "/configs/arch/sanger.json");
  return a;
}
}  // namespace

TEST(RunEstimate, CountsEveryQueryKeyPairTwiceTimesTheHeadDim) {
  const RunEstimate dense = estimate_run(sanger(), spec(2, 4, 128, 32, false), false);
  EXPECT_DOUBLE_EQ(dense.macs, 2.0 * 4 * 128 * 128 * 32 * 2);
  EXPECT_DOUBLE_EQ(dense.cpu_s, dense.macs / kEstimateMacsPerSecond);
  const RunEstimate causal = estimate_run(sanger(), spec(2, 4, 128, 32, true), false);
  EXPECT_DOUBLE_EQ(causal.macs, 2.0 * 4 * (128.0 * 129 / 2) * 32 * 2);
  EXPECT_EQ(dense.dump_bytes, 0);
  // A dump of a Sanger run holds each head's dense prediction: it grows with seq².
  const RunEstimate d1 = estimate_run(sanger(), spec(1, 1, 1024, 64, false), true);
  const RunEstimate d2 = estimate_run(sanger(), spec(1, 1, 2048, 64, false), true);
  EXPECT_GT(d2.dump_bytes / d1.dump_bytes, 3.8);
  // Memory holds a layer's tensors and a tile, not the seq x seq matrix.
  const RunEstimate m1 = estimate_run(sanger(), spec(1, 1, 1 << 16, 64, false), false);
  const RunEstimate m2 = estimate_run(sanger(), spec(1, 1, 1 << 17, 64, false), false);
  EXPECT_LT(m2.memory_bytes / m1.memory_bytes, 2.1);
}

TEST(RunEstimate, RefusesBeyondADayOfCpuAndNamesTheOverride) {
  // Just under and just over a day at 1e9 MACs/s: seq 2^17 with one head is 2^34·64·2 = 2.2e12 MACs (37 min).
  EXPECT_NO_THROW(check_run_estimate(estimate_run(sanger(), spec(1, 1, 1 << 17, 64, false), false),
                                     spec(1, 1, 1 << 17, 64, false), "", "--allow-large"));
  const WorkloadSpec big = spec(1, 64, 1 << 17, 64, false);  // 64 heads: 39 h
  try {
    check_run_estimate(estimate_run(sanger(), big, false), big, "", "--allow-large");
    FAIL() << "no refusal";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("w.json: layers x batch x heads x seq_len^2 x head_dim"), std::string::npos) << m;
    EXPECT_NE(m.find("--allow-large"), std::string::npos) << m;
  }
}

// With structured masks (the DynamiQK presets) and sampled accuracy rows, a
// head's cost follows seq, not seq²: a whole 32-layer 128k model is accepted,
// and refused again when every row is compared.
TEST(RunEstimate, StructuredMasksWithSampledRowsGrowWithSeqNotItsSquare) {
  const ArchConfig arch = ArchConfig::load(std::string(ATTNSIM_SOURCE_DIR) + "/configs/arch/dynamiqk_sanger.json");
  WorkloadSpec model = spec(32, 32, 1 << 17, 128, true);
  const RunEstimate sampled = estimate_run(arch, model, false, 128);
  EXPECT_DOUBLE_EQ(sampled.macs, 32.0 * 32 * (1 << 17) * 128 * (128 + 2 * 128 + 512));
  EXPECT_NO_THROW(check_run_estimate(sampled, model, "", "--allow-large"));
  EXPECT_THROW(check_run_estimate(estimate_run(arch, model, false, 0), model, "", "--allow-large"), InputError);
  // Sanger's predictor lists every mask: still the dense-equivalent count.
  EXPECT_DOUBLE_EQ(estimate_run(sanger(), model, false, 128).macs, estimate_run(sanger(), model, false, 0).macs);
  // Doubling seq doubles the sampled cost.
  WorkloadSpec half = model;
  half.seq_len /= 2;
  EXPECT_NEAR(sampled.macs / estimate_run(arch, half, false, 128).macs, 2.0, 1e-9);
}
