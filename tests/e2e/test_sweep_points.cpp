// attnsim sweep --point and --summarize, the evaluation side of attnsim
// search (docs/search.md): a point is a sweep point (same content hash,
// report reused), a combination the arch rejects is a failed point, a value
// outside the space is bad input, two processes asking for one point compute
// it once, and a list of points gets a sweep-format summary whose front keeps
// out failed and infeasible points.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_runner.h"

using namespace attnsim_test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A search space of Sanger on one layer of the small synthetic workload.
json space() {
  return {{"arch", kSrc + "/configs/arch/sanger.json"},
          {"workload", kSrc + "/workloads/synthetic_small.json"},
          {"run_options", {{"layers", 1}}},
          {"space",
           {{"pe_array.rows", {{"choices", {16, 32}}}},
            {"pe_array.pes_per_row", {{"choices", {8, 32}}}},
            {"encoder.segment_width", {{"choices", {16, 64}}}}}},
          {"objectives", {{{"metric", "total.cycles"}}, {{"metric", "edp_pj_us"}}}},
          {"constraints", {{{"metric", "area.total_mm2"}, {"max", 3.0}}}}};
}

std::string write(const std::string& name, const json& j) {
  const std::string file = scratch() + "/" + name;
  std::ofstream(file) << j.dump(1);
  return file;
}

json point_line(const CliResult& r) {
  std::istringstream in(r.out);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return json::parse(last);
}

std::string point_args(const std::string& spec, const std::string& out, const json& params) {
  return "sweep " + spec + " --out " + out + " -q --point '" + params.dump() + "'";
}

}  // namespace

TEST(SweepPoints, APointIsTheSweepsPointAndIsReused) {
  const std::string spec = write("space.json", space()), out = scratch() + "/APointIsTheSweepsPointAndIsReused";
  const CliResult first = run_attnsim(point_args(spec, out, {{"pe_array.rows", 32}}));
  ASSERT_EQ(first.code, 0) << first.err;
  const json e = point_line(first);
  EXPECT_EQ(e["status"], "ok");
  EXPECT_EQ(e["host"]["reused"], false);
  EXPECT_TRUE(fs::exists(out + "/points/" + e["hash"].get<std::string>() + ".json"));
  EXPECT_GT(e["objectives"]["edp_pj_us"].get<double>(), 0);
  EXPECT_NEAR(e["objectives"]["edp_pj_us"].get<double>(),
              e["metrics"]["energy_pj"].get<double>() * e["metrics"]["time_us"].get<double>(), 1e-6);
  ASSERT_EQ(e["constraints"].size(), 1u);
  EXPECT_EQ(e["feasible"], e["constraints"][0]["value"].get<double>() <= 3.0);

  const CliResult again = run_attnsim(point_args(spec, out, {{"pe_array.rows", 32}}));
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(point_line(again)["host"]["reused"], true);
  EXPECT_EQ(point_line(again)["hash"], e["hash"]);

  // The same point in a sweep has the same content hash.
  json sweep = space();
  for (const char* k : {"space", "constraints"}) sweep.erase(k);
  sweep["axes"] = {{{"list", {{{"pe_array.rows", 32}}}}}};
  const CliResult dry = run_attnsim("sweep " + write("sweep.json", sweep) + " --dry-run");
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find(e["hash"].get<std::string>()), std::string::npos) << dry.out;
}

TEST(SweepPoints, RejectedCombinationsFailAndOutsideValuesAreBadInput) {
  const std::string spec = write("space.json", space()), out = scratch() + "/RejectedCombinationsFailAndOutsideValuesAreBadInput";
  const CliResult r = run_attnsim(point_args(spec, out, {{"pe_array.pes_per_row", 32}, {"encoder.segment_width", 16}}));
  EXPECT_EQ(r.code, 1) << r.err;
  const json e = point_line(r);
  EXPECT_EQ(e["status"], "failed");
  EXPECT_NE(e["error"].get<std::string>().find("rejected by the arch"), std::string::npos) << e.dump();
  EXPECT_TRUE(e["feasible"].is_null());

  for (const json& bad : {json{{"pe_array.rows", 48}}, json{{"pe_array.colz", 8}}}) {
    const CliResult b = run_attnsim(point_args(spec, out, bad));
    EXPECT_EQ(b.code, 2) << b.err;
    EXPECT_NE(b.err.find(spec + ": --point[\"" + bad.begin().key() + "\"]"), std::string::npos) << b.err;
    EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << b.err;
  }
  // Not a search's folder and not this spec's sweep: refused.
  fs::create_directories(scratch() + "/mine");
  std::ofstream(scratch() + "/mine/notes.txt") << "mine\n";
  EXPECT_EQ(run_attnsim(point_args(spec, scratch() + "/mine", {{"pe_array.rows", 32}})).code, 2);
}

TEST(SweepPoints, TwoProcessesAskingForOnePointComputeItOnce) {
  const std::string spec = write("space.json", space()), out = scratch() + "/TwoProcessesAskingForOnePointComputeItOnce";
  ASSERT_EQ(run_attnsim(point_args(spec, out, {{"pe_array.rows", 16}})).code, 0);  // claims OUT
  const std::string cmd = "cd " + kSrc + " && (" + ATTNSIM_BIN + " " + point_args(spec, out, {{"pe_array.rows", 32}}) +
                          " > " + scratch() + "/a.txt & " + ATTNSIM_BIN + " " +
                          point_args(spec, out, {{"pe_array.rows", 32}}) + " > " + scratch() + "/b.txt; wait)";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const json a = json::parse(slurp(scratch() + "/a.txt")), b = json::parse(slurp(scratch() + "/b.txt"));
  EXPECT_EQ(a["status"], "ok");
  EXPECT_EQ(b["status"], "ok");
  EXPECT_EQ(a["hash"], b["hash"]);
  EXPECT_NE(a["host"]["reused"], b["host"]["reused"]) << "one computed it, the other read its report";
  EXPECT_EQ(a["objectives"], b["objectives"]);
}

TEST(SweepPoints, SummarizeWritesASweepSummaryWithoutFailedOrInfeasiblePointsOnTheFront) {
  const std::string spec = write("space.json", space()), out = scratch() + "/SummarizeWritesASweepSummaryWithoutFailedOrInfeasiblePointsOnTheFront";
  const std::vector<json> params = {{{"pe_array.rows", 16}, {"pe_array.pes_per_row", 8}},
                                    {{"pe_array.rows", 32}, {"pe_array.pes_per_row", 32}},
                                    {{"pe_array.pes_per_row", 32}, {"encoder.segment_width", 16}},
                                    {{"pe_array.rows", 32}}};
  json list = {{"points", json::array()}, {"host", {{"study", "test"}}}};
  int trial = 10;
  for (const auto& p : params) {
    const CliResult r = run_attnsim(point_args(spec, out, p));
    ASSERT_LE(r.code, 1) << r.err;
    list["points"].push_back({{"params", p}, {"error", point_line(r)["error"]}, {"trial", trial++}});
  }
  list["points"][3]["error"] = "timeout after 5 s (killed)";  // as a search records a failed trial
  const CliResult r = run_attnsim("sweep " + spec + " --out " + out + " -q --summarize " + write("list.json", list));
  EXPECT_EQ(r.code, 1) << r.err;  // some points failed
  const json s = json::parse(slurp(out + "/summary.json"));
  EXPECT_EQ(s["format"], "attnsim-sweep-summary");
  EXPECT_EQ(s["counts"]["points"], 4);
  EXPECT_EQ(s["counts"]["failed"], 2);
  EXPECT_EQ(s["points"][3]["error"], "timeout after 5 s (killed)");
  EXPECT_EQ(s["points"][1]["host"]["trial"], 11);
  EXPECT_EQ(s["host"]["study"], "test");
  // 32x32 PEs are over 3 mm²: infeasible, so off the front with the failed ones.
  EXPECT_EQ(s["points"][1]["feasible"], false);
  EXPECT_EQ(s["pareto"], json::array({0}));
  const std::string csv = slurp(out + "/summary.csv");
  EXPECT_NE(csv.find(",feasible\n"), std::string::npos) << csv;
  const CliResult c = run_attnsim("compare " + out + "/summary.json");
  EXPECT_EQ(c.code, 0) << c.err;
  // A point outside the space in the list: bad input naming the list.
  list["points"][0]["params"]["pe_array.rows"] = 48;
  const std::string bad = write("bad_list.json", list);
  const CliResult b = run_attnsim("sweep " + spec + " --out " + out + " -q --summarize " + bad);
  EXPECT_EQ(b.code, 2);
  EXPECT_NE(b.err.find(bad + ": points[0].params[\"pe_array.rows\"]"), std::string::npos) << b.err;
}
