// Technology tables, and energy and area estimates on hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "scratch_dir.h"
#include "energy/energy_model.h"
#include "util/error.h"

using namespace attnsim;
using nlohmann::json;

namespace {
const std::string kSrc = ATTNSIM_SOURCE_DIR;

json shipped_tech() {
  std::ifstream in(kSrc + "/configs/tech/45nm.json");
  return json::parse(in);
}

// Round numbers: adders linear in width (1 at 8 bits), multipliers quadratic
// (1 at 8 bits), SRAM 8 pJ at 8 KiB growing as sqrt(capacity), DRAM 64 pJ per
// 8 bytes; areas equal to energies; exp = 1 add + 1 mult, softmax element =
// 1 add, reciprocal = 2 iterations of 1 add + 1 mult.
TechTable toy_tech() {
  TechTable t;
  t.name = "toy";
  t.int_add_pj = t.int_add_um2 = PowerLawCurve({{8, 1}, {32, 4}});
  t.int_mult_pj = t.int_mult_um2 = PowerLawCurve({{8, 1}, {32, 16}});
  t.fp16_add_pj = t.fp16_add_um2 = 5;
  t.fp16_mult_pj = t.fp16_mult_um2 = 6;
  t.fp32_add_pj = t.fp32_add_um2 = 10;
  t.fp32_mult_pj = t.fp32_mult_um2 = 20;
  t.sram_pj_per_64bit = PowerLawCurve({{8, 8}, {128, 32}});
  t.dram_pj_per_64bit = 64;
  t.sram_um2_per_kib = 1000;
  t.exp_pwl = t.exp_exact = Composite{1, 1, 1};
  t.softmax_element = Composite{1, 0, 1};
  t.reciprocal = Composite{1, 1, 2};
  return t;
}

// A small Sanger: 2x2 score-stationary array (fixed16), a 2x2 4-bit predictor
// with one softmax lane, pack-and-split over 4-wide segments, 1 KiB buffers.
json small_sanger() {
  return {{"name", "small"},
          {"mask_unit", {{"kind", "sanger_predictor"}, {"bits", 4}, {"array", {{"rows", 2}, {"cols", 2}}},
                         {"softmax_lanes", 1}}},
          {"encoder", {{"kind", "pack_split"}, {"segment_width", 4}}},
          {"pe_array", {{"kind", "score_stationary"}, {"rows", 2}, {"pes_per_row", 2}, {"number_format", "fixed16.8"},
                        {"prob_format", "fixed16.14"}, {"exp", "pwl6"}}},
          {"memory", {{"sram_kib", {{"q", 1}, {"k", 1}, {"v", 1}, {"score", 1}, {"output", 1}}}}}};
}

ArchConfig with_toy_tech(const json& j) {
  ArchConfig a = ArchConfig::from_json(j, "arch.json");
  a.tech_table = toy_tech();
  return a;
}

void expect_tech_error(const json& j, std::initializer_list<const char*> fragments) {
  try {
    TechTable::from_json(j, "tech.json");
    FAIL() << "accepted " << j.dump();
  } catch (const InputError& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(PowerLawCurve, InterpolatesInLogLogAndExtendsTheEndSegments) {
  const PowerLawCurve mult({{32, 3.1}, {8, 0.2}});  // points in any order
  EXPECT_DOUBLE_EQ(mult.at(8), 0.2);
  EXPECT_NEAR(mult.at(32), 3.1, 1e-12);
  EXPECT_NEAR(mult.at(16), std::sqrt(0.2 * 3.1), 1e-12);  // halfway in log: the geometric mean
  EXPECT_NEAR(mult.at(4), 0.2 / std::sqrt(15.5), 1e-12);  // below: the 8-32 law extended
  EXPECT_NEAR(mult.at(64), 3.1 * std::sqrt(15.5), 1e-9);
  const PowerLawCurve sram({{8, 10}, {32, 20}, {1024, 100}});
  EXPECT_NEAR(sram.at(16), std::sqrt(200.0), 1e-9);    // first segment
  EXPECT_NEAR(sram.at(181.019336), std::sqrt(2000.0), 1e-6);  // second segment: 32 * sqrt(32)
}

TEST(TechTable, ShippedTableHasHorowitzNumbers) {
  const TechTable t = TechTable::load(kSrc + "/configs/tech/45nm.json");
  EXPECT_EQ(t.name, "45nm");
  EXPECT_DOUBLE_EQ(t.add_pj(Arith::integer(8)), 0.03);
  EXPECT_NEAR(t.add_pj(Arith::integer(32)), 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(t.mult_pj(Arith::integer(8)), 0.2);
  EXPECT_NEAR(t.mult_pj(Arith::integer(32)), 3.1, 1e-12);
  EXPECT_DOUBLE_EQ(t.add_pj(Arith{true, 16}), 0.4);
  EXPECT_DOUBLE_EQ(t.mult_pj(Arith{true, 32}), 3.7);
  EXPECT_DOUBLE_EQ(t.mult_um2(Arith{true, 32}), 7700);
  EXPECT_DOUBLE_EQ(t.add_um2(Arith::integer(8)), 36);
  EXPECT_NEAR(t.mult_um2(Arith::integer(32)), 3495, 1e-9);
  // The widely reproduced 16-bit adder (0.05 pJ, 67 um^2) lies within 10 % of the interpolation.
  EXPECT_NEAR(t.add_pj(Arith::integer(16)), 0.05, 0.005);
  EXPECT_NEAR(t.add_um2(Arith::integer(16)), 67, 6.7);
  EXPECT_DOUBLE_EQ(t.sram_pj_per_byte(8), 10.0 / 8);
  EXPECT_NEAR(t.sram_pj_per_byte(1024), 100.0 / 8, 1e-9);
  EXPECT_DOUBLE_EQ(t.dram_pj_per_byte(), 1950.0 / 8);
  EXPECT_EQ(t.exp_pwl.adds, 5);
  EXPECT_EQ(t.reciprocal.iterations, 3);
  EXPECT_THROW(t.add_pj(Arith{true, 8}), std::logic_error);  // no fp8 entry
}

TEST(TechTable, BadTablesNameTheFileAndPath) {
  json j = shipped_tech();
  j["energy_pj"]["int_add"].erase("source");
  expect_tech_error(j, {"tech.json", "energy_pj.int_add.source", "missing"});
  j = shipped_tech();
  j["energy_pj"]["int_mult"]["by_bits"] = {{"8", 0.2}};
  expect_tech_error(j, {"energy_pj.int_mult.by_bits", "at least two"});
  j = shipped_tech();
  j["area_um2"]["int_add"]["by_bits"]["wide"] = 3;
  expect_tech_error(j, {"area_um2.int_add.by_bits.wide", "number of bits"});
  j = shipped_tech();
  j["area_um2"]["fp32_add"]["value"] = -1;
  expect_tech_error(j, {"area_um2.fp32_add.value", "out of range"});
  j = shipped_tech();
  j["energy_pj"].erase("dram_access_64bit");
  expect_tech_error(j, {"energy_pj.dram_access_64bit", "missing"});
  j = shipped_tech();
  j["composite"]["exp_pwl"]["adds"] = 1.5;
  expect_tech_error(j, {"composite.exp_pwl.adds", "integer"});
  j = shipped_tech();
  j["energy_pj"]["bogus"] = 1;
  expect_tech_error(j, {"energy_pj.bogus", "unknown key"});
  j = shipped_tech();
  j["energy_pj"]["fp32_add"]["source"] = "";
  expect_tech_error(j, {"energy_pj.fp32_add.source", "cite"});
  EXPECT_THROW(TechTable::load("/nonexistent/tech.json"), InputError);
}

TEST(ArchTech, DefaultResolvesToTheShippedTableFromAnyDirectory) {
  const ArchConfig a = ArchConfig::from_json(small_sanger(), "/some/where/else/arch.json");
  EXPECT_EQ(a.tech, "configs/tech/45nm.json");
  EXPECT_EQ(a.tech_table.name, "45nm");
  EXPECT_EQ(a.to_json()["tech"], "configs/tech/45nm.json");
}

TEST(ArchTech, RelativePathIsLookedUpNextToTheArchFileFirst) {
  const auto dir = std::filesystem::path(attnsim_test::scratch_dir()) / "tech";
  std::filesystem::create_directories(dir);
  json t = shipped_tech();
  t["name"] = "local-copy";
  std::ofstream(dir / "mine.json") << t.dump();
  json j = small_sanger();
  j["tech"] = "mine.json";
  EXPECT_EQ(ArchConfig::from_json(j, (dir / "arch.json").string()).tech_table.name, "local-copy");
  j["tech"] = "missing.json";
  try {
    ArchConfig::from_json(j, (dir / "arch.json").string());
    FAIL();
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("arch.json: tech:"), std::string::npos) << m;
    EXPECT_NE(m.find("missing.json"), std::string::npos) << m;
  }
  j["tech"] = "";
  EXPECT_THROW(ArchConfig::from_json(j, "arch.json"), InputError);
}

// Energy by hand with the toy table. PE array (fixed16 data and
// probabilities, pwl exp): a MAC = mult16 (4) + add32 (4) = 8; a softmax
// element = exp (add16 2 + mult16 4) + 1 add16 (2) = 8; a normalised row =
// reciprocal 2 x (2 + 4) + head_dim 4 x mult16 4 = 28. Predictor (4-bit
// products, 16-bit sums): a MAC = 0.25 + 2; compare = add16 = 2.
TEST(Energy, TwoUnitPeriodByHand) {
  const ArchConfig arch = with_toy_tech(small_sanger());
  PeriodStats p;
  UnitWork& pe = p.units["pe_array"];
  pe.macs = 10;
  pe.counts = {{"softmax_elements", 3}, {"normalised_rows", 2}, {"passes", 99}};
  UnitWork& mask = p.units["mask_unit"];
  mask.macs = 100;
  mask.counts = {{"softmax_elements", 5}, {"compare_ops", 5}};
  p.sram["q"] = {32 * 1024, 40, 24, 0};  // 64 bytes of a 32 KiB buffer: 16 pJ per 8 bytes
  p.sram["k"] = {1024, 0, 0, 0};         // untouched: no entry
  p.dram_bytes_read = 6;
  p.dram_bytes_written = 4;  // 10 bytes at 8 pJ
  const EnergyBreakdown e = estimate_energy(arch, p, 4);
  EXPECT_DOUBLE_EQ(e.by_unit.at("pe_array"), 10 * 8 + 3 * 8 + 2 * 28);
  EXPECT_DOUBLE_EQ(e.by_unit.at("mask_unit"), 100 * 2.25 + 5 * 8 + 5 * 2);
  EXPECT_DOUBLE_EQ(e.by_unit.at("sram_q"), 128);
  EXPECT_EQ(e.by_unit.count("sram_k"), 0u);
  EXPECT_DOUBLE_EQ(e.by_unit.at("dram"), 80);
  EXPECT_DOUBLE_EQ(e.total_pj, 160 + 275 + 128 + 80);
  EXPECT_DOUBLE_EQ(e.by_operation.at("mac"), 80 + 225);
  EXPECT_DOUBLE_EQ(e.by_operation.at("softmax"), 24 + 40);
  EXPECT_DOUBLE_EQ(e.by_operation.at("normalise"), 56);
  EXPECT_DOUBLE_EQ(e.by_operation.at("compare"), 10);
  const json j = e.to_json("toy");
  EXPECT_DOUBLE_EQ(j["total_pj"].get<double>(), 643);
  EXPECT_EQ(j["tech"], "toy");
  EXPECT_DOUBLE_EQ(j["by_unit"]["dram"].get<double>(), 80);
}

TEST(Energy, EveryOperationCounterIsPriced) {
  json j = small_sanger();
  j["pe_array"]["number_format"] = "fp32";  // MACs at fp32, values at fp32 too (prob_format follows)
  j["pe_array"].erase("prob_format");
  j["pe_array"]["exp"] = "exact";
  j["mask_unit"] = {{"kind", "pattern_detector"}};  // it declares add_ops and compare_ops
  const ArchConfig arch = with_toy_tech(j);
  PeriodStats p;
  p.units["pe_array"].macs = 1;                                         // 20 + 10
  p.units["encoder"].counts = {{"index_ops", 3}};                       // 3 x add16 = 6
  p.units["mask_unit"].counts = {{"add_ops", 2}, {"compare_ops", 1}};  // 3 x fp32 add = 30
  const EnergyBreakdown e = estimate_energy(arch, p, 4);
  EXPECT_DOUBLE_EQ(e.by_unit.at("pe_array"), 30);
  EXPECT_DOUBLE_EQ(e.by_unit.at("encoder"), 6);
  EXPECT_DOUBLE_EQ(e.by_unit.at("mask_unit"), 30);
  EXPECT_DOUBLE_EQ(e.by_operation.at("index"), 6);
  EXPECT_DOUBLE_EQ(e.by_operation.at("add"), 20);
  EXPECT_DOUBLE_EQ(e.by_unit.at("dram"), 0);
  EXPECT_DOUBLE_EQ(e.total_pj, 66);
}

TEST(Energy, ACounterAUnitDoesNotDeclareIsAnError) {
  // Sanger's predictor declares softmax_elements and compare_ops only: an
  // add_ops count from it would otherwise cost nothing without a word.
  const ArchConfig arch = with_toy_tech(small_sanger());
  PeriodStats p;
  p.units["mask_unit"].counts = {{"add_ops", 2}};
  try {
    estimate_energy(arch, p, 4);
    FAIL() << "no error";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("sanger_predictor reports add_ops"), std::string::npos) << e.what();
  }
  // Counters the energy model does not price (passes, bubbles) are free to report.
  p.units["mask_unit"].counts = {{"passes", 2}, {"compare_ops", 1}};
  EXPECT_NO_THROW(estimate_energy(arch, p, 4));
  // A unit without MACs that reports some.
  json j = small_sanger();
  j["mask_unit"] = {{"kind", "static_pattern"}, {"pattern", "local_stride"}};
  PeriodStats q;
  q.units["mask_unit"].macs = 1;
  EXPECT_THROW(estimate_energy(with_toy_tech(j), q, 4), std::logic_error);
}

TEST(Energy, MaskUnitMacsByKind) {
  // DynamiQK detector: 16-bit estimation MACs (mult16 4 + add32 4) whatever the PE array's format.
  json j = small_sanger();
  j["mask_unit"] = {{"kind", "pattern_detector"}};
  j["pe_array"]["number_format"] = "fixed8.4";
  PeriodStats p;
  p.units["mask_unit"].macs = 3;
  EXPECT_DOUBLE_EQ(estimate_energy(with_toy_tech(j), p, 4).total_pj, 3 * 8);
  // Sanger predictor with 8 bits: mult8 1 + add at 2*8+8 = 24 bits (3).
  j = small_sanger();
  j["mask_unit"]["bits"] = 8;
  EXPECT_DOUBLE_EQ(estimate_energy(with_toy_tech(j), p, 4).total_pj, 3 * 4);
  // SpAtten's 12-bit datapath: mult12 2.25 + add24 3 per MAC.
  json sp = small_sanger();
  sp["encoder"] = {{"kind", "none"}};
  sp["mask_unit"] = {{"kind", "spatten_pruner"}};
  sp["pe_array"] = {{"kind", "spatten_datapath"}, {"number_format", "fixed12.4"}, {"prob_format", "fixed16.14"}};
  PeriodStats q;
  q.units["pe_array"].macs = 4;
  q.units["mask_unit"].counts = {{"compare_ops", 1}, {"add_ops", 1}};  // top-k and importance, at add16
  EXPECT_DOUBLE_EQ(estimate_energy(with_toy_tech(sp), q, 4).total_pj, 4 * (2.25 + 3) + 2 * 2);
}

TEST(Energy, ShippedTableSangerMacIsA16BitMultiplyAnd32BitAdd) {
  const ArchConfig arch = ArchConfig::from_json(small_sanger(), "arch.json");
  PeriodStats p;
  p.units["pe_array"].macs = 1000;
  const double want = 1000 * (std::sqrt(0.2 * 3.1) + 0.1);
  EXPECT_NEAR(estimate_energy(arch, p, 64).total_pj, want, 1e-9);
}

// Area by hand with the toy table (areas equal energies): PE = 4 x (MAC 8 +
// exp 6) + 2 rows x divider (one iteration: 2 + 4) = 68; predictor = 4 x
// (mult4 0.25 + add16 2) + 1 lane x (softmax lane 8 + comparator 2) = 19;
// encoder = 4 index adders x 2 = 8; SRAM = 5 KiB x 1000.
TEST(Area, SangerByHand) {
  const AreaBreakdown a = estimate_area(with_toy_tech(small_sanger()));
  EXPECT_DOUBLE_EQ(a.by_unit.at("pe_array"), 68e-6);
  EXPECT_DOUBLE_EQ(a.by_unit.at("mask_unit"), 19e-6);
  EXPECT_DOUBLE_EQ(a.by_unit.at("encoder"), 8e-6);
  EXPECT_DOUBLE_EQ(a.by_unit.at("sram_q"), 1000e-6);
  EXPECT_NEAR(a.total_mm2, 5095e-6, 1e-15);
  EXPECT_EQ(a.to_json("toy")["by_unit"].size(), 8u);
}

TEST(Area, EveryPeArrayAndMaskUnitKind) {
  // Systolic 2x3 with 2 softmax lanes: 6 MACs x 8 + 2 lanes x 8 + divider 6 = 70.
  json sys = small_sanger();
  sys["encoder"] = {{"kind", "none"}};
  sys["mask_unit"] = {{"kind", "none"}};
  sys["pe_array"] = {{"kind", "systolic_os"}, {"rows", 2}, {"cols", 3}, {"softmax_lanes", 2},
                     {"number_format", "fixed16.8"}, {"prob_format", "fixed16.14"}, {"exp", "exact"}};
  AreaBreakdown a = estimate_area(with_toy_tech(sys));
  EXPECT_DOUBLE_EQ(a.by_unit.at("pe_array"), 70e-6);
  EXPECT_EQ(a.by_unit.count("mask_unit"), 0u);
  EXPECT_EQ(a.by_unit.count("encoder"), 0u);

  // SpAtten pruner in front: top-k comparators 2 x 2 + one accumulator per softmax lane 2 x 2 = 8.
  sys["mask_unit"] = {{"kind", "spatten_pruner"}, {"topk_parallelism", 2}};
  EXPECT_DOUBLE_EQ(estimate_area(with_toy_tech(sys)).by_unit.at("mask_unit"), 8e-6);

  // DynamiQK detector 2x2 (16-bit MACs 4 x 8), 1 lane (8 + 2 sum adders x 2),
  // 2 top-k comparators (4), 1 index + 1 emit lane (4) = 52.
  sys["mask_unit"] = {{"kind", "pattern_detector"}, {"array", {{"rows", 2}, {"cols", 2}}}, {"softmax_lanes", 1},
                      {"topk_parallelism", 2}, {"index_lanes", 1}, {"emit_lanes", 1}, {"init_columns", 0}};
  EXPECT_DOUBLE_EQ(estimate_area(with_toy_tech(sys)).by_unit.at("mask_unit"), 52e-6);

  // Static pattern: 3 emit lanes of index adders = 6.
  sys["mask_unit"] = {{"kind", "static_pattern"}, {"pattern", "a_shape"}, {"emit_lanes", 3}};
  EXPECT_DOUBLE_EQ(estimate_area(with_toy_tech(sys)).by_unit.at("mask_unit"), 6e-6);

  // SpAtten datapath: 4 + 4 multipliers x 8, 1 lane x 8, 2 top-k comparators x 2, divider 6 = 82.
  json sp = sys;
  sp["mask_unit"] = {{"kind", "spatten_pruner"}};
  sp["pe_array"] = {{"kind", "spatten_datapath"}, {"qk_multipliers", 4}, {"av_multipliers", 4},
                    {"softmax_lanes", 1}, {"topk_parallelism", 2}, {"number_format", "fixed16.8"},
                    {"prob_format", "fixed16.14"}, {"exp", "exact"}};
  a = estimate_area(with_toy_tech(sp));
  EXPECT_DOUBLE_EQ(a.by_unit.at("pe_array"), 82e-6);
}

TEST(Area, ShippedPresetsHavePlausibleAreas) {
  // Whole-accelerator areas of a few mm^2 at 45 nm (Sanger reports 16.9 mm^2
  // at 55 nm with more on-chip memory; SpAtten 18.71 mm^2 at 40 nm).
  for (const char* name : {"sanger", "dense_systolic", "spatten", "dynamiqk_sanger"}) {
    const ArchConfig a = ArchConfig::load(kSrc + "/configs/arch/" + name + ".json");
    const AreaBreakdown area = estimate_area(a);
    EXPECT_GT(area.total_mm2, 0.5) << name;
    EXPECT_LT(area.total_mm2, 30) << name;
    double sum = 0;
    for (const auto& [unit, mm2] : area.by_unit) sum += mm2;
    EXPECT_NEAR(sum, area.total_mm2, 1e-12) << name;
  }
}
