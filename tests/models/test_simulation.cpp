// Whole runs through simulate(): one elaboration per test process.
#include <gtest/gtest.h>

#include <fstream>

#include "run/simulation.h"
#include "report/report.h"

using namespace attnsim;
using nlohmann::json;

namespace {
const std::string kSrc = ATTNSIM_SOURCE_DIR;

WorkloadSpec small_workload(bool causal = false) {
  const json w = {{"name", "t"},     {"layers", 2},    {"heads", 2},       {"seq_len", 64},
                  {"head_dim", 16},  {"causal", causal}, {"data", {{"kind", "synthetic"}, {"seed", 3}}}};
  return WorkloadSpec::from_json(w, "t.json", "");
}
}  // namespace

TEST(Simulation, SangerRunAddsUpAndPredictsASparseMask) {
  const ArchConfig arch = ArchConfig::load(kSrc + "/configs/arch/sanger.json");
  const RunStats s = simulate(arch, small_workload(), {});
  ASSERT_EQ(s.layers.size(), 2u);
  EXPECT_EQ(s.total.cycles, s.layers[0].cycles + s.layers[1].cycles);
  EXPECT_GT(s.total.cycles, 0);
  EXPECT_LT(s.total.accuracy.density(), 1.0);
  EXPECT_GT(s.total.accuracy.density(), 0.0);
  EXPECT_GT(s.total.accuracy.recall(), 0.5);
  EXPECT_EQ(s.total.units.at("pe_array").macs, 2 * s.total.accuracy.kept * 16);  // SDDMM, SpMM (row_max: predictor)
  EXPECT_TRUE(s.kv_resident);  // 64 x 16 x 2 B = 2 KiB per head
  // DRAM: per head Q + K + V in, the output out (resident K/V, no spills).
  const int64_t head = 64 * 16 * 2;
  EXPECT_EQ(s.total.dram_bytes_read, 4 * 3 * head);
  EXPECT_EQ(s.total.dram_bytes_written, 4 * head);
  // Every unit's busy time fits in the run.
  for (const auto& [name, w] : s.total.units) EXPECT_LE(w.cycles, s.total.cycles) << name;
}

TEST(Simulation, DenseBaselineIsExactAndCausalHalvesTheWork) {
  ArchConfig arch = ArchConfig::load(kSrc + "/configs/arch/dense_fp32.json");
  const RunStats s = simulate(arch, small_workload(true), {});
  EXPECT_DOUBLE_EQ(s.total.accuracy.density(), 1.0);
  EXPECT_NEAR(s.total.accuracy.recall(), 1.0, 1e-6);
  EXPECT_LT(s.total.accuracy.relative_error(), 1e-5);
  EXPECT_EQ(s.total.accuracy.allowed, 4 * 64 * 65 / 2);
  EXPECT_EQ(s.total.dense_macs, 2 * s.total.accuracy.allowed * 16);
}

TEST(Simulation, ReportHasTheDocumentedFields) {
  const ArchConfig arch = ArchConfig::load(kSrc + "/configs/arch/sanger.json");
  const WorkloadSpec w = small_workload();
  const json r = make_report(arch, w, simulate(arch, w, {}), {1.0, 10.0});
  for (const char* p : {"/total/cycles", "/total/time_us", "/total/units/pe_array/mac_utilisation",
                        "/total/units/mask_unit/stages/low_bit_qk", "/total/units/encoder/busy_cycles",
                        "/total/units/dram/bytes_read", "/total/sram/k/bytes_read", "/total/macs/pe_array_vs_dense",
                        "/total/mask/density", "/total/mask/recall", "/total/accuracy/relative_error",
                        "/layers/1/cycles", "/simulator/simulated_macs_per_host_s"})
    EXPECT_TRUE(r.contains(json::json_pointer(p))) << p;
  EXPECT_FALSE(without_host_fields(r).contains("simulator"));
}
