// The dense baseline's output-stationary array against SCALE-Sim v3 (PyPI
// scalesim 3.0.0, run by tests/reference/scalesim/run_scalesim.py on the
// cases in facts/scalesim_v3.json): with fold_drain = in_skew (the default)
// every case's cycles equal SCALE-Sim's total + 1 (SCALE-Sim reports the
// 0-based index of its last cycle); after_fold is SCALE-Sim v2's formula.
#include <gtest/gtest.h>

#include "reference_table.h"
#include "systolic/systolic_timing.h"

using namespace attnsim;
using namespace attnsim::reference;

TEST(ScaleSimV3, EveryGemmCaseHasSCALESimsCycles) {
  const nlohmann::json facts = load_facts("scalesim_v3.json");
  const auto& ref = facts["reference"];
  Table t("Dense baseline: output-stationary systolic array (systolic_os)",
          "SCALE-Sim v3 (PyPI scalesim " + ref.value("version", std::string("3.0.0")) +
              "), tests/reference/scalesim/run_scalesim.py, GEMM mode, OS dataflow, no stalls");
  t.note("SCALE-Sim reports the 0-based index of its last cycle; attnsim counts cycles, so attnsim = SCALE-Sim + 1 "
         "with fold_drain = in_skew. With after_fold (SCALE-Sim v2, ISPASS 2020) each fold pays R more cycles.");
  ASSERT_GE(facts["cases"].size(), 10u);
  int cases = 0;
  for (const auto& c : facts["cases"]) {
    const int64_t M = c["M"], N = c["N"], K = c["K"];
    const int R = c["rows"], C = c["cols"];
    const int64_t theirs = c["total_cycles"];
    ASSERT_EQ(c["stall_cycles"].get<int64_t>(), 0) << c["name"];
    const GemmTiming ours = os_gemm(M, N, K, R, C, FoldDrain::in_skew);
    EXPECT_EQ(ours.cycles, theirs + 1) << c["name"];
    const GemmTiming v2 = os_gemm(M, N, K, R, C, FoldDrain::after_fold);
    EXPECT_EQ(v2.cycles - ours.cycles, ours.folds * R) << c["name"];
    const std::string inputs = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + " on " +
                               std::to_string(R) + "x" + std::to_string(C);
    t.row(c["name"].get<std::string>(), inputs, ours.cycles, theirs,
          ours.cycles == theirs + 1 ? "+1 (cycle count vs last-cycle index)" : "MISMATCH", "fold_drain=in_skew");
    char pct[32];
    std::snprintf(pct, sizeof pct, "%+.1f %%", 100.0 * (v2.cycles - (theirs + 1)) / (theirs + 1));
    t.row(c["name"].get<std::string>() + " (v2)", inputs, v2.cycles, theirs, pct, "fold_drain=after_fold");
    ++cases;
  }
  t.write("scalesim_v3.json");
  EXPECT_GE(cases, 10);
}

// A query tile shorter than the array: with fill_array the controller grows
// the tile to the array's rows (ArchConfig::query_tile_rows), so a 128 x 128
// array runs 128-row tiles; the GEMM of the 512-key head then costs
// SCALE-Sim's whole-GEMM cycles, tile by tile.
TEST(ScaleSimV3, TilesThatFillTheArrayCostTheWholeGemm) {
  // QKᵀ 512 x 512 x 64 on 128 x 128 in four 128-row tiles = SCALE-Sim's 5087 + 1.
  int64_t tiles = 0;
  for (int row0 = 0; row0 < 512; row0 += 128) tiles += os_gemm(128, 512, 64, 128, 128).cycles;
  EXPECT_EQ(tiles, 5088);
  // With 64-row tiles the array's lower half idles: twice the folds.
  int64_t half = 0;
  for (int row0 = 0; row0 < 512; row0 += 64) half += os_gemm(64, 512, 64, 128, 128).cycles;
  EXPECT_EQ(half, 2 * 5088);
}
