// Energy and area in reports, the arch's tech table, and compare over reports
// and sweep summaries, through the CLI.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "csv_table.h"

using namespace attnsim_test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kSmall = "workloads/synthetic_small.json";

json load(const std::string& p) { return json::parse(slurp(p)); }

std::string write_file(const std::string& name, const std::string& text) {
  const std::string p = scratch() + "/" + name;
  std::ofstream(p) << text;
  return p;
}

json run_report(const std::string& arch, const std::string& name, const std::string& extra = "") {
  const std::string out = scratch() + "/" + name + ".json";
  const CliResult r = run_attnsim("run -q -a configs/arch/" + arch + ".json -w " + kSmall + " " + extra + " -o " + out);
  EXPECT_EQ(r.code, 0) << r.err;
  return load(out);
}

double sum_of(const json& object) {
  double s = 0;
  for (const auto& [k, v] : object.items()) s += v.get<double>();
  return s;
}

}  // namespace

TEST(EnergyCli, ReportsCarryEnergyAndAreaThatAddUp) {
  for (const std::string arch : {"sanger", "dense_systolic", "spatten", "spatten_pruner_systolic"}) {
    const json r = run_report(arch, "energy_" + arch, "--layers 2");
    const json& e = r["total"]["energy"];
    ASSERT_TRUE(e.is_object()) << arch;
    EXPECT_EQ(e["tech"], "45nm");
    const double total = e["total_pj"].get<double>();
    EXPECT_GT(total, 0) << arch;
    EXPECT_NEAR(sum_of(e["by_unit"]), total, 1e-9 * total) << arch;
    EXPECT_NEAR(sum_of(e["by_operation"]), total, 1e-9 * total) << arch;
    for (const char* unit : {"pe_array", "dram", "sram_q", "sram_k", "sram_v"})
      EXPECT_GT(e["by_unit"][unit].get<double>(), 0) << arch << " " << unit;
    double layers = 0;
    for (const auto& l : r["layers"]) layers += l["energy"]["total_pj"].get<double>();
    EXPECT_NEAR(layers, total, 1e-9 * total) << arch;
    EXPECT_GT(r["area"]["total_mm2"].get<double>(), 0) << arch;
    EXPECT_NEAR(sum_of(r["area"]["by_unit"]), r["area"]["total_mm2"].get<double>(), 1e-12) << arch;
    EXPECT_EQ(r["arch"]["tech"], "configs/tech/45nm.json");
  }
  // The mask units' own operations are priced.
  const json sanger = load(scratch() + "/energy_sanger.json");
  EXPECT_GT(sanger["total"]["energy"]["by_unit"]["mask_unit"].get<double>(), 0);
  EXPECT_GT(sanger["total"]["energy"]["by_unit"]["encoder"].get<double>(), 0);
  const json spatten = load(scratch() + "/energy_spatten.json");
  EXPECT_GT(spatten["total"]["units"]["mask_unit"]["counts"]["add_ops"].get<int64_t>(), 0);  // importance sums
  EXPECT_GT(spatten["total"]["energy"]["by_operation"]["add"].get<double>(), 0);
}

TEST(EnergyCli, ANarrowerDatapathCostsLessAndTheTechTableMatters) {
  const json wide = run_report("sanger", "e_wide", "--layers 1");
  const json narrow = run_report("sanger", "e_narrow", "--layers 1 --set pe_array.number_format=fixed8.4");
  EXPECT_LT(narrow["total"]["energy"]["by_operation"]["mac"].get<double>(),
            wide["total"]["energy"]["by_operation"]["mac"].get<double>());
  EXPECT_LT(narrow["area"]["by_unit"]["pe_array"].get<double>(), wide["area"]["by_unit"]["pe_array"].get<double>());
  // A table with DRAM twice as expensive doubles the DRAM energy, nothing else.
  json t = load(kSrc + "/configs/tech/45nm.json");
  t["name"] = "dear-dram";
  t["energy_pj"]["dram_access_64bit"]["value"] = 3900;
  const std::string tech = write_file("dear_dram.json", t.dump());
  const json dear = run_report("sanger", "e_dear", "--layers 1 --set tech=" + tech);
  EXPECT_EQ(dear["total"]["energy"]["tech"], "dear-dram");
  EXPECT_DOUBLE_EQ(dear["total"]["energy"]["by_unit"]["dram"].get<double>(),
                   2 * wide["total"]["energy"]["by_unit"]["dram"].get<double>());
  EXPECT_DOUBLE_EQ(dear["total"]["energy"]["by_unit"]["pe_array"].get<double>(),
                   wide["total"]["energy"]["by_unit"]["pe_array"].get<double>());
  EXPECT_EQ(dear["total"]["cycles"], wide["total"]["cycles"]);
}

TEST(EnergyCli, BadTechTablesAreOneLineErrors) {
  const std::string out = scratch() + "/no_report.json";
  fs::remove(out);
  CliResult r = run_attnsim("run -q -a configs/arch/sanger.json -w " + kSmall + " --set tech=nope/missing.json -o " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("configs/arch/sanger.json: tech:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.err;
  json t = load(kSrc + "/configs/tech/45nm.json");
  t["area_um2"]["int_mult"].erase("source");
  const std::string bad = write_file("unsourced.json", t.dump());
  r = run_attnsim("run -q -a configs/arch/sanger.json -w " + kSmall + " --set tech=" + bad + " -o " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unsourced.json: area_um2.int_mult.source"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(EnergyCli, CompareShowsEnergyAreaAndSweepPoints) {
  const std::string a = scratch() + "/cmp_dense.json", b = scratch() + "/cmp_sanger.json";
  ASSERT_EQ(run_attnsim("run -q -a configs/arch/dense_systolic.json -w " + kSmall + " -o " + a).code, 0);
  ASSERT_EQ(run_attnsim("run -q -a configs/arch/sanger.json -w " + kSmall + " -o " + b).code, 0);
  CliResult r = run_attnsim("compare --format csv " + a + " " + b);
  ASSERT_EQ(r.code, 0) << r.err;
  auto t = attnsim_test::parse_csv(r.out);
  for (const char* column : {"energy_uj", "pe_array_energy_uj", "dram_energy_uj", "area_mm2", "energy_saving_vs_baseline"})
    EXPECT_FALSE(t["sanger-64x16"][column].empty()) << column << " in\n" << r.out;

  // A sweep summary whose first point's report is the Sanger run.
  const json summary = {
      {"spec", {{"name", "mini"}}},
      {"points", {{{"index", 0}, {"status", "ok"}, {"params", {{"pe_array.rows", 64}}}, {"report", b},
                   {"metrics", {{"cycles", 1}}}},
                  {{"index", 1}, {"status", "failed"}, {"params", {{"pe_array.rows", 8}}}, {"error", "timeout"}}}},
      {"pareto", {0}}};
  const std::string s = write_file("summary.json", summary.dump());
  r = run_attnsim("compare --baseline mini#0 " + a + " " + s);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("mini#0 (baseline)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mini#1"), std::string::npos);
  EXPECT_NE(r.out.find("\u2014"), std::string::npos);  // the failed point's metrics
  r = run_attnsim("compare --pareto --format markdown " + s);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("mini#1"), std::string::npos);
  EXPECT_EQ(run_attnsim("compare --baseline nobody " + a + " " + s).code, 2);
}
