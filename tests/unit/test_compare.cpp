#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "csv_table.h"
#include "scratch_dir.h"
#include "report/compare.h"
#include "util/error.h"

using namespace attnsim;
using nlohmann::json;

namespace {
CompareInput report(const std::string& name, int64_t cycles, double time_us, double density, bool with_mask = true) {
  json r = {{"arch", {{"name", name}}},
            {"total", {{"cycles", cycles}, {"time_us", time_us}, {"macs", {{"pe_array", 1000}}}}}};
  if (with_mask) r["total"]["mask"] = {{"density", density}};
  return {name, r, nullptr};
}

// A report with energy, area and a GPU timing.
CompareInput full_report(const std::string& name, double time_us, double energy_pj, double area_mm2) {
  CompareInput in = report(name, static_cast<int64_t>(time_us * 1000), time_us, 0.5);
  in.report["total"]["energy"] = {
      {"total_pj", energy_pj},
      {"by_unit", {{"pe_array", energy_pj / 2}, {"dram", energy_pj / 2}}},
      {"by_operation", {{"sram", 0.0}}},
      {"tech", "45nm"}};
  in.report["area"] = {{"total_mm2", area_mm2}, {"by_unit", {{"pe_array", area_mm2 / 4}, {"sram_q", area_mm2 / 4},
                                                           {"sram_k", area_mm2 / 2}}}};
  in.report["gpu"] = {{"name", "NVIDIA H100"}, {"time_us", 50.0}};
  return in;
}

std::string write_temp(const std::string& name, const json& j) {
  const auto dir = std::filesystem::path(attnsim_test::scratch_dir()) / "compare";
  std::filesystem::create_directories(dir);
  const auto p = dir / name;
  std::ofstream(p) << j.dump();
  return p.string();
}
}  // namespace

TEST(Compare, TableShowsRatiosToTheBaseline) {
  const std::string t = compare_reports({report("dense", 2000, 2.0, 1.0), report("sanger", 500, 0.5, 0.2)}, 0,
                                        TableFormat::text);
  EXPECT_NE(t.find("dense (baseline)"), std::string::npos);
  EXPECT_NE(t.find("500 (0.25x)"), std::string::npos);
  EXPECT_NE(t.find("4x"), std::string::npos);  // speedup
  EXPECT_NE(t.find("0.2"), std::string::npos);
}

TEST(Compare, MissingMetricsShowAsDashOrEmpty) {
  const std::vector<CompareInput> in = {report("a", 10, 1, 0.5), report("b", 20, 2, 0, false)};
  const std::string csv = compare_reports(in, 0, TableFormat::csv);
  auto t = attnsim_test::parse_csv(csv);
  EXPECT_EQ(t["a"]["mask_density"], "0.5");
  EXPECT_EQ(t["b"]["mask_density"], "");
  EXPECT_EQ(csv.find("gpu_time"), std::string::npos);  // absent from all: no column
  EXPECT_EQ(csv.find("energy"), std::string::npos);
  const std::string text = compare_reports(in, 0, TableFormat::text);
  const size_t row = text.find("mask density");
  ASSERT_NE(row, std::string::npos);
  EXPECT_NE(text.substr(row, text.find('\n', row) - row).find("\u2014"), std::string::npos);
  const std::string md = compare_reports(in, 0, TableFormat::markdown);
  EXPECT_NE(md.find("\u2014 |"), std::string::npos);
}

TEST(Compare, MarkdownIsATable) {
  const std::string t = compare_reports({report("a", 10, 1, 0.5), report("b", 20, 2, 0.5)}, 1, TableFormat::markdown);
  EXPECT_EQ(t.rfind("| metric", 0), 0u);
  EXPECT_NE(t.find("b (baseline)"), std::string::npos);
  EXPECT_NE(t.find("-: |"), std::string::npos);  // right-aligned numbers
  // Every line has the same number of columns.
  std::istringstream lines(t);
  std::string line;
  while (std::getline(lines, line)) EXPECT_EQ(std::count(line.begin(), line.end(), '|'), 4) << line;
}

TEST(Compare, TextColumnsAlignWithDashesAndRatios) {
  const std::string t = compare_reports({report("a", 10, 1, 0.5), report("b", 20, 2, 0, false)}, 0, TableFormat::text);
  std::istringstream lines(t);
  std::string line;
  std::vector<size_t> widths;
  while (std::getline(lines, line)) {
    size_t w = 0;
    for (unsigned char c : line) w += (c & 0xC0) != 0x80;
    widths.push_back(w);
  }
  for (size_t w : widths) EXPECT_EQ(w, widths.front()) << t;
}

TEST(Compare, EnergyAreaAndGpuRows) {
  const std::string csv =
      compare_reports({full_report("dense", 200, 4e6, 2.0), full_report("sanger", 100, 1e6, 3.0)}, 0, TableFormat::csv);
  auto t = attnsim_test::parse_csv(csv);
  EXPECT_EQ(t["dense"]["baseline"], "1");
  EXPECT_EQ(t["sanger"]["baseline"], "0");
  EXPECT_EQ(t["dense"]["energy_uj"], "4");
  EXPECT_EQ(t["sanger"]["energy_uj"], "1");
  EXPECT_EQ(t["dense"]["energy_uj_vs_baseline"], "1");
  EXPECT_EQ(t["sanger"]["energy_uj_vs_baseline"], "0.25");
  EXPECT_EQ(t["sanger"]["energy_saving_vs_baseline"], "4");
  EXPECT_EQ(t["sanger"]["dram_energy_uj"], "0.5");
  EXPECT_EQ(t["sanger"]["area_mm2_vs_baseline"], "1.5");
  EXPECT_EQ(t["sanger"]["sram_area_mm2"], "2.25");  // sram_q + sram_k
  EXPECT_EQ(t["sanger"]["gpu_time_us"], "50");
  EXPECT_EQ(t["dense"]["speedup_over_gpu"], "0.25");
  EXPECT_EQ(t["sanger"]["GPU"], "NVIDIA H100");
  EXPECT_EQ(csv.find("mask_unit_energy"), std::string::npos);  // neither has one
  // Full precision for spreadsheets: 1/3 is not cut to 4 digits.
  t = attnsim_test::parse_csv(compare_reports({full_report("a", 300, 3e6, 3.0), full_report("b", 100, 1e6, 1.0)}, 0,
                                TableFormat::csv));
  EXPECT_EQ(t["b"]["time_us_vs_baseline"], "0.3333333333333333");
}

TEST(Compare, SweepSummaryPointsBecomeColumns) {
  const json summary = {
      {"spec", {{"name", "grid"}}},
      {"points",
       {{{"index", 0}, {"status", "ok"}, {"params", {{"pe_array.rows", 32}}}, {"workload", "minilm"},
         {"metrics", {{"cycles", 1000}, {"time_us", 1.0}, {"energy_pj", 2e6}, {"area_mm2", 1.5}, {"density", 0.3}}},
         {"report", "points/none/report.json"}},
        {{"index", 1}, {"status", "ok"}, {"params", {{"pe_array.rows", 64}}}, {"workload", "minilm"},
         {"metrics", {{"cycles", 500}, {"time_us", 0.5}, {"energy_pj", 3e6}, {"area_mm2", 2.5}, {"mask_density", 0.3}}}},
        {{"index", 2}, {"status", "failed"}, {"params", {{"pe_array.rows", 128}}}, {"workload", "minilm"},
         {"metrics", {{"cycles", nullptr}}}, {"error", "crashed"}}}},
      {"pareto", {0, 1}}};
  const std::string path = write_temp("summary.json", summary);
  const auto points = load_compare_inputs(path);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[1].label, "grid#1");
  EXPECT_TRUE(points[0].report.is_null());  // its report file is not there: metrics stand in

  std::vector<CompareInput> cols = {full_report("dense", 2.0, 4e6, 2.0)};
  cols.insert(cols.end(), points.begin(), points.end());
  auto t = attnsim_test::parse_csv(compare_reports(cols, 0, TableFormat::csv));
  EXPECT_EQ(t["grid#0"]["cycles"], "1000");
  EXPECT_EQ(t["grid#0"]["cycles_vs_baseline"], "0.5");
  EXPECT_EQ(t["grid#1"]["cycles_vs_baseline"], "0.25");
  EXPECT_EQ(t["grid#2"]["cycles"], "");
  EXPECT_EQ(t["grid#1"]["energy_uj"], "3");
  EXPECT_EQ(t["grid#0"]["area_mm2_vs_baseline"], "0.75");
  EXPECT_EQ(t["grid#1"]["mask_density"], "0.3");  // either summary name
  EXPECT_EQ(t["grid#0"]["mask_density"], "0.3");
  EXPECT_EQ(t["grid#2"]["status"], "failed");
  EXPECT_EQ(t["dense"]["status"], "");
  EXPECT_EQ(t["grid#2"]["pe_array.rows"], "128");
  EXPECT_EQ(t["dense"]["pe_array.rows"], "");  // the report has no such arch field
  EXPECT_EQ(t["grid#1"]["workload"], "minilm");

  EXPECT_EQ(load_compare_inputs(path, true).size(), 2u);  // the Pareto front only
}

TEST(Compare, SummaryPointReadsItsReportWhenPresent) {
  json r = full_report("sanger", 1.0, 1e6, 3.0).report;
  r["arch"]["pe_array"] = {{"rows", 64}};
  write_temp("point_report.json", r);
  const json point = {{"index", 7}, {"params", {{"pe_array.rows", 64}}}, {"metrics", {{"cycles", 1}}},
                      {"report", "point_report.json"}};
  const json summary = {{"points", json::array({point})}};
  const auto points = load_compare_inputs(write_temp("summary2.json", summary));
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].label, "compare#7");  // no spec name: the summary's folder
  EXPECT_FALSE(points[0].report.is_null());
  // A report (without sweep params) shows its arch value in a parameter row.
  auto t = attnsim_test::parse_csv(compare_reports({points[0], {"plain", r, nullptr}}, 1, TableFormat::csv));
  EXPECT_EQ(t["compare#7"]["cycles"], "1000");  // from the report, not the summary's 1
  EXPECT_EQ(t["compare#7"]["pe_array.rows"], "64");
  EXPECT_EQ(t["plain"]["pe_array.rows"], "64");
}

TEST(Compare, BadInputsNameTheFile) {
  const std::string bad = write_temp("bad.json", json{{"points", 3}});
  EXPECT_THROW(load_compare_inputs(bad), InputError);
  try {
    load_compare_inputs(write_temp("bad2.json", json{{"points", json::array({json{{"status", "ok"}}})}}));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("points[0].index"), std::string::npos) << e.what();
  }
  try {
    load_compare_inputs(write_temp("neither.json", json{{"x", 1}}));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("neither an attnsim report"), std::string::npos) << e.what();
  }
}
