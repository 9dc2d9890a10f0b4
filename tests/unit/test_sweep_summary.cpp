// Sweep summaries: metrics taken from reports, the Pareto front per workload,
// skipped objectives, the CSV, and the merge of shard summaries.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "scratch_dir.h"
#include "dse/sweep_summary.h"
#include "report/report.h"
#include "util/error.h"

using namespace attnsim;
using nlohmann::json;

namespace {

std::string scratch() { return attnsim_test::scratch_dir(); }

// A spec with one swept parameter and two workloads, without touching files.
SweepSpec spec_with(int points_per_workload) {
  SweepSpec s;
  s.json = {{"name", "t"}};
  s.parameters = {"pe_array.rows"};
  s.objectives = {{"total.cycles", false}, {"total.energy.total_pj", false}, {"total.mask.recall", true}};
  for (const char* name : {"w0", "w1"}) {
    SweepWorkload w;
    w.spec.name = name;
    s.workloads.push_back(w);
  }
  for (size_t w = 0; w < 2; ++w)
    for (int i = 0; i < points_per_workload; ++i) {
      SweepPoint p;
      p.index = static_cast<int>(s.points.size());
      p.workload = w;
      p.params = {{"pe_array.rows", 16 << i}};
      p.hash = "h" + std::to_string(p.index);
      s.points.push_back(p);
    }
  return s;
}

json report(int64_t cycles, double recall, double wall = 0.5) {
  return {{"total",
           {{"cycles", cycles},
            {"time_us", cycles / 1000.0},
            {"units", {{"pe_array", {{"busy_fraction", 0.5}}}, {"dram", {{"bytes_read", 100}, {"bytes_written", 20}}}}},
            {"mask", {{"density", 0.25}, {"recall", recall}}},
            {"accuracy", {{"relative_error", 0.01}}}}},
          {"simulator", {{"wall_time_s", wall}, {"functional_cache_hits", 3}}}};
}

}  // namespace

TEST(SweepSummary, ParetoFrontPerWorkloadSkipsMissingObjectives) {
  const SweepSpec s = spec_with(4);
  // Workload 0: (cycles, recall max): p0 (100, 0.9), p1 (80, 0.8), p2 (120, 0.85) dominated by p0, p3 failed.
  // Workload 1: p4 (500, 0.5) is its own front though p0..p2 beat it: fronts are per workload.
  const json reports[] = {report(100, 0.9), report(80, 0.8), report(120, 0.85)};
  SummaryParts parts{s.json, s.parameters, s.objectives, {}};
  for (int i = 0; i < 3; ++i) parts.points.push_back(point_entry(s, s.points[i], &reports[i], "", s.objectives));
  parts.points.push_back(point_entry(s, s.points[3], nullptr, "exit code 2: bad, \"quoted\"\nsecond line", s.objectives));
  const json r4 = report(500, 0.5);
  parts.points.push_back(point_entry(s, s.points[4], &r4, "", s.objectives));
  for (int i = 5; i < 8; ++i) parts.points.push_back(point_entry(s, s.points[i], nullptr, "timeout", s.objectives));
  std::vector<std::string> warnings;
  const json summary = make_summary(parts, &warnings);
  EXPECT_EQ(summary["pareto"], json({0, 1, 4}));
  EXPECT_EQ(summary["counts"], json({{"points", 8}, {"ok", 4}, {"failed", 4}}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("total.energy.total_pj"), std::string::npos);
  EXPECT_FALSE(summary["objectives"][1]["used"].get<bool>());
  EXPECT_TRUE(summary["objectives"][2]["used"].get<bool>());
  const json& p1 = summary["points"][1];
  EXPECT_EQ(p1["status"], "ok");
  EXPECT_EQ(p1["metrics"]["cycles"], 80);
  EXPECT_EQ(p1["metrics"]["dram_bytes"], 120);
  EXPECT_TRUE(p1["metrics"]["energy_pj"].is_null());
  EXPECT_EQ(p1["report"], "points/h1.json");
  EXPECT_EQ(p1["params"]["pe_array.rows"], 32);
  EXPECT_EQ(p1["host"]["functional_cache_hits"], 3);
  EXPECT_EQ(summary["points"][3]["status"], "failed");
  EXPECT_TRUE(summary["points"][3]["report"].is_null());

  const std::string csv = summary_csv(summary);
  std::istringstream lines(csv);
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header,
            "point,hash,status,pe_array.rows,workload,cycles,time_us,energy_pj,area_mm2,pe_utilisation,mac_utilisation,"
            "dram_bytes,mask_density,relative_error,wall_time_s,functional_cache_hits,pareto,error");
  EXPECT_NE(csv.find("\n1,h1,ok,32,w0,80,0.08,,,0.5,,120,0.25,0.01,0.5,3,1,\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",0,\"exit code 2: bad, \"\"quoted\"\"\nsecond line\"\n"), std::string::npos) << csv;

  const std::string table = pareto_table(summary);
  EXPECT_NE(table.find("total.mask.recall (max)"), std::string::npos) << table;
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 2 + 3) << table;  // header, rule, 3 points
}

TEST(SweepSummary, NoSuccessfulPointNoFront) {
  const SweepSpec s = spec_with(1);
  SummaryParts parts{s.json, s.parameters, s.objectives, {}};
  for (const auto& p : s.points) parts.points.push_back(point_entry(s, p, nullptr, "crash", s.objectives));
  std::vector<std::string> warnings;
  const json summary = make_summary(parts, &warnings);
  EXPECT_TRUE(summary["pareto"].empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("no point succeeded"), std::string::npos);
}

TEST(SweepSummary, MergeJoinsShardsAndChecksCompleteness) {
  const SweepSpec s = spec_with(3);  // 6 points
  const json r = report(100, 0.9);
  auto shard_file = [&](const std::string& dir, int index, int count, const json& spec) {
    SummaryParts parts{spec, s.parameters, s.objectives, {}};
    for (const auto& p : s.points)
      if (p.index % count == index) parts.points.push_back(point_entry(s, p, &r, "", s.objectives));
    json summary = make_summary(parts, nullptr);
    summary["shard"] = {{"index", index}, {"count", count}, {"points_total", s.points.size()}};
    std::filesystem::create_directories(dir);
    write_json_atomic(dir + "/" + shard_summary_name(index, count), summary);
  };
  const std::string one = scratch() + "/one", a = scratch() + "/a", b = scratch() + "/b";
  for (int i = 0; i < 3; ++i) shard_file(one, i, 3, s.json);
  std::vector<std::string> files, dirs;
  const SummaryParts merged = merge_shards({one}, &files, &dirs);
  ASSERT_EQ(merged.points.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(merged.points[i]["index"], i);
  EXPECT_EQ(files.size(), 3u);
  EXPECT_EQ(dirs[4], one);
  // Equal to the unsharded summary.
  SummaryParts whole{s.json, s.parameters, s.objectives, {}};
  for (const auto& p : s.points) whole.points.push_back(point_entry(s, p, &r, "", s.objectives));
  EXPECT_EQ(make_summary(merged, nullptr), make_summary(whole, nullptr));
  // Shards spread over folders.
  shard_file(a, 0, 2, s.json);
  EXPECT_THROW(
      try { merge_shards({a}, nullptr, nullptr); } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("shard 1 of 2 is missing"), std::string::npos) << e.what();
        throw;
      },
      InputError);
  shard_file(b, 1, 2, s.json);
  std::vector<std::string> from;
  EXPECT_EQ(merge_shards({a, b}, nullptr, &from).points.size(), 6u);
  EXPECT_EQ(from[1], b);
  // Another spec's shard.
  shard_file(b, 1, 2, json{{"name", "other"}});
  EXPECT_THROW(merge_shards({a, b}, nullptr, nullptr), InputError);
  EXPECT_THROW(merge_shards({scratch() + "/empty_nothing"}, nullptr, nullptr), InputError);
}
