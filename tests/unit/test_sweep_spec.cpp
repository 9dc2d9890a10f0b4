// Sweep specs: expansion of grid/zip/list/random axes, content hashes,
// functional classes, and validation errors that name the spec file and path.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "scratch_dir.h"
#include "dse/sweep_spec.h"
#include "util/error.h"

using namespace attnsim;
using nlohmann::json;

namespace {

const std::string kSrc = ATTNSIM_SOURCE_DIR;

std::string scratch() { return attnsim_test::scratch_dir(); }

// A spec on the Sanger preset and the small synthetic workload, plus `extra`.
json base_spec(const json& extra = json::object()) {
  json s = {{"arch", kSrc + "/configs/arch/sanger.json"}, {"workload", kSrc + "/workloads/synthetic_small.json"}};
  s.update(extra);
  return s;
}

std::string write_spec(const std::string& text, const std::string& name = "spec.json") {
  const std::string file = scratch() + "/" + name;
  std::ofstream(file) << text;
  return file;
}

SweepSpec load(const json& spec) { return SweepSpec::load(write_spec(spec.dump())); }

// Expects an InputError naming the spec file and every fragment.
void expect_error(const std::string& spec_text, std::initializer_list<std::string> fragments) {
  const std::string file = write_spec(spec_text, "bad_spec.json");
  try {
    SweepSpec::load(file);
    FAIL() << "accepted " << spec_text;
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(file, 0), 0u) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

std::vector<int64_t> column(const SweepSpec& s, const std::string& path) {
  std::vector<int64_t> v;
  for (const auto& p : s.points)
    for (const auto& [k, x] : p.params)
      if (k == path) v.push_back(x.get<int64_t>());
  return v;
}

}  // namespace

TEST(SweepSpec, GridIsTheProductInWrittenOrder) {
  // Written order, not alphabetical: rows varies slowest.
  const SweepSpec s = SweepSpec::load(write_spec(
      R"({"arch": ")" + kSrc + R"(/configs/arch/sanger.json", "workload": ")" + kSrc +
      R"(/workloads/synthetic_small.json", "axes": [{"grid": {"pe_array.rows": [16, 32, 64], "pe_array.pes_per_row": [4, 8]}}]})"));
  ASSERT_EQ(s.points.size(), 6u);
  EXPECT_EQ(s.parameters, (std::vector<std::string>{"pe_array.rows", "pe_array.pes_per_row"}));
  EXPECT_EQ(column(s, "pe_array.rows"), (std::vector<int64_t>{16, 16, 32, 32, 64, 64}));
  EXPECT_EQ(column(s, "pe_array.pes_per_row"), (std::vector<int64_t>{4, 8, 4, 8, 4, 8}));
  std::set<std::string> hashes;
  for (size_t i = 0; i < s.points.size(); ++i) {
    EXPECT_EQ(s.points[i].index, static_cast<int>(i));
    hashes.insert(s.points[i].hash);
    EXPECT_EQ(s.points[i].hash.size(), 16u);
  }
  EXPECT_EQ(hashes.size(), 6u);
  // The effective arch carries the overrides.
  EXPECT_EQ(s.points[3].arch["pe_array"]["rows"], 32);
  EXPECT_EQ(s.points[3].arch["pe_array"]["pes_per_row"], 8);
  EXPECT_EQ(s.objectives.size(), 3u);  // the defaults
  EXPECT_EQ(s.objectives[0].metric, "total.cycles");
}

TEST(SweepSpec, ZipListAndAxesProduct) {
  const SweepSpec s = load(base_spec(
      {{"axes",
        {{{"zip", {{"memory.sram_kib.k", {16, 32, 64}}, {"memory.sram_kib.v", {8, 16, 32}}}}},
         {{"list", {{{"clock_ghz", 0.5}}, {{"clock_ghz", 2.0}, {"pe_array.exp", "pwl4"}}}}}}}}));
  ASSERT_EQ(s.points.size(), 6u);  // 3 zipped x 2 listed, first axis slowest
  EXPECT_EQ(column(s, "memory.sram_kib.k"), (std::vector<int64_t>{16, 16, 32, 32, 64, 64}));
  EXPECT_EQ(column(s, "memory.sram_kib.v"), (std::vector<int64_t>{8, 8, 16, 16, 32, 32}));
  EXPECT_EQ(s.points[1].arch["pe_array"]["exp"], "pwl4");
  EXPECT_EQ(s.points[0].arch["pe_array"]["exp"], "pwl6");  // the base's
  EXPECT_EQ(s.parameters, (std::vector<std::string>{"memory.sram_kib.k", "memory.sram_kib.v", "clock_ghz", "pe_array.exp"}));
}

TEST(SweepSpec, RandomSamplingIsSeededAndInRange) {
  const json random = {{"random",
                        {{"n", 20},
                         {"seed", 7},
                         {"params",
                          {{"pe_array.rows", {{"choices", {16, 32, 64}}}},
                           {"pe_array.pes_per_row", {{"int", {4, 16}}}},
                           {"clock_ghz", {{"float", {0.5, 2.0}}}}}}}}};
  const SweepSpec a = load(base_spec({{"axes", {random}}})), b = load(base_spec({{"axes", {random}}}));
  ASSERT_EQ(a.points.size(), 20u);
  std::set<int64_t> rows, pes;
  std::set<double> clocks;
  for (size_t i = 0; i < a.points.size(); ++i) {
    EXPECT_EQ(a.points[i].hash, b.points[i].hash);  // same seed, same samples
    // Built with nlohmann::json, the spec lists the parameters alphabetically.
    const auto& p = a.points[i].params;
    ASSERT_EQ(p.size(), 3u);
    ASSERT_EQ(p[0].first, "clock_ghz");
    clocks.insert(p[0].second.get<double>());
    ASSERT_TRUE(p[1].second.is_number_integer());
    pes.insert(p[1].second.get<int64_t>());
    rows.insert(p[2].second.get<int64_t>());
  }
  for (auto r : rows) EXPECT_TRUE(r == 16 || r == 32 || r == 64) << r;
  EXPECT_GT(rows.size(), 1u);
  EXPECT_GE(*pes.begin(), 4);
  EXPECT_LE(*pes.rbegin(), 16);
  EXPECT_GT(pes.size(), 3u);
  EXPECT_GE(*clocks.begin(), 0.5);
  EXPECT_LE(*clocks.rbegin(), 2.0);
  EXPECT_EQ(clocks.size(), 20u);
  json other = random;
  other["random"]["seed"] = 8;
  const SweepSpec c = load(base_spec({{"axes", {other}}}));
  int same = 0;
  for (size_t i = 0; i < c.points.size(); ++i) same += c.points[i].hash == a.points[i].hash;
  EXPECT_LT(same, 20);
}

TEST(SweepSpec, WorkloadsSetOptionsAndRunArguments) {
  const SweepSpec s = load(json{{"arch", kSrc + "/configs/arch/sanger.json"},
                                {"workloads", {kSrc + "/workloads/synthetic_small.json", kSrc + "/workloads/minilm_s128.json"}},
                                {"set", {{"memory.dram.bandwidth_gbps", 64}}},
                                {"run_options", {{"accuracy_rows", 16}, {"layers", 1}}},
                                {"timeout_s", 30},
                                {"objectives", {{{"metric", "total.time_us"}}, {{"metric", "total.mask.recall"}, {"goal", "max"}}}},
                                {"axes", {{{"grid", {{"pe_array.rows", {32, 64}}}}}}}});
  ASSERT_EQ(s.points.size(), 4u);  // workload-major
  EXPECT_EQ(s.points[1].workload, 0u);
  EXPECT_EQ(s.points[2].workload, 1u);
  EXPECT_EQ(s.workloads[1].spec.simulated_layers(), 1);
  EXPECT_EQ(s.points[0].arch["memory"]["dram"]["bandwidth_gbps"], 64);
  EXPECT_DOUBLE_EQ(s.timeout_s, 30);
  ASSERT_EQ(s.objectives.size(), 2u);
  EXPECT_FALSE(s.objectives[0].maximise);
  EXPECT_TRUE(s.objectives[1].maximise);
  const auto args = s.run_args(s.points[3], "OUT/r.json", "OUT/functional");
  const std::vector<std::string> expected = {
      "run", "-q", "--threads", "1", "-a", kSrc + "/configs/arch/sanger.json", "-w", kSrc + "/workloads/minilm_s128.json", "-o",
      "OUT/r.json", "--set", "memory.dram.bandwidth_gbps=64", "--set", "pe_array.rows=64", "--accuracy-rows", "16",
      "--layers", "1", "--functional-cache", "OUT/functional"};
  EXPECT_EQ(args, expected);
}

TEST(SweepSpec, HashesFollowContentAndClassesFollowValues) {
  // Two identical list entries: one hash. A hardware change: new hash, same
  // functional class. A threshold change: new class.
  const SweepSpec s = load(base_spec(
      {{"axes",
        {{{"list",
           {{{"pe_array.rows", 32}}, {{"pe_array.rows", 32}}, {{"pe_array.rows", 16}}, {{"mask_unit.threshold", 0.01}}}}}}}}));
  ASSERT_EQ(s.points.size(), 4u);
  EXPECT_EQ(s.points[0].hash, s.points[1].hash);
  EXPECT_NE(s.points[0].hash, s.points[2].hash);
  EXPECT_FALSE(s.points[0].functional_class.empty());
  EXPECT_EQ(s.points[0].functional_class, s.points[2].functional_class);
  EXPECT_NE(s.points[0].functional_class, s.points[3].functional_class);
  // The workload's content is part of the hash: the same spec on another
  // workload file with other content hashes differently.
  const SweepSpec t = load(json{{"arch", kSrc + "/configs/arch/sanger.json"},
                                {"workload", kSrc + "/workloads/minilm_s128.json"},
                                {"axes", {{{"list", {{{"pe_array.rows", 32}}}}}}}});
  EXPECT_NE(t.points[0].hash, s.points[0].hash);
  // SpAtten keeps values the cache does not hold: never a class.
  const SweepSpec sp = load(json{{"arch", kSrc + "/configs/arch/spatten.json"},
                                 {"workload", kSrc + "/workloads/synthetic_small.json"}});
  ASSERT_EQ(sp.points.size(), 1u);  // no axes: one point per workload
  EXPECT_TRUE(sp.points[0].functional_class.empty());
}

TEST(SweepSpec, ErrorsNameTheSpecFileAndPath) {
  const std::string arch = "\"arch\": \"" + kSrc + "/configs/arch/sanger.json\"";
  const std::string wl = "\"workload\": \"" + kSrc + "/workloads/synthetic_small.json\"";
  auto spec = [&](const std::string& rest) { return "{" + arch + ", " + wl + (rest.empty() ? "" : ", " + rest) + "}"; };
  // Unknown arch path, checked by applying it to the base arch.
  expect_error(spec(R"("axes": [{"grid": {"pe_array.colz": [1, 2]}}])"),
               {"axes[0].grid[\"pe_array.colz\"][0]", "pe_array.colz", "unknown key"});
  expect_error(spec(R"("axes": [{"grid": {"pe_array.rows.x": [1]}}])"), {"pe_array.rows.x", "not a parameter"});
  expect_error(spec(R"("set": {"memory.dram.speed": 3})"), {"set", "memory.dram.speed", "unknown key"});
  // Empty axes.
  expect_error(spec(R"("axes": [{"grid": {"pe_array.rows": []}}])"), {"axes[0].grid[\"pe_array.rows\"]", "empty axis"});
  expect_error(spec(R"("axes": [{"grid": {}}])"), {"axes[0].grid", "empty axis"});
  expect_error(spec(R"("axes": [{"list": []}])"), {"axes[0].list", "empty axis"});
  // Zip of different lengths.
  expect_error(spec(R"("axes": [{"zip": {"memory.sram_kib.k": [16, 32], "memory.sram_kib.v": [16]}}])"),
               {"axes[0].zip[\"memory.sram_kib.v\"]", "unequal lengths"});
  // Bad values: range, type.
  expect_error(spec(R"("axes": [{"grid": {"pe_array.rows": [32, 0]}}])"),
               {"axes[0].grid[\"pe_array.rows\"][1]", "pe_array.rows", "out of range"});
  expect_error(spec(R"("axes": [{"grid": {"pe_array.rows": ["many"]}}])"), {"pe_array.rows", "expected an integer"});
  expect_error(spec(R"("axes": [{"random": {"n": 3, "params": {"clock_ghz": {"float": [2, 1]}}}}])"),
               {"axes[0].random.params[\"clock_ghz\"].float", "LO <= HI"});
  expect_error(spec(R"("axes": [{"random": {"n": 3, "params": {"pe_array.rows": {"int": [1.5, 4]}}}}])"),
               {"axes[0].random.params[\"pe_array.rows\"].int", "integers"});
  expect_error(spec(R"("axes": [{"random": {"n": 0, "params": {"pe_array.rows": {"int": [1, 4]}}}}])"),
               {"axes[0].random.n", "out of range"});
  // Valid alone, invalid together (pes_per_row must not exceed segment_width).
  expect_error(spec(R"("axes": [{"grid": {"encoder.segment_width": [16, 64], "pe_array.pes_per_row": [32]}}])"),
               {"point 0 (encoder.segment_width=16, pe_array.pes_per_row=32)", "pe_array.pes_per_row"});
  // The same parameter twice.
  expect_error(spec(R"("axes": [{"grid": {"pe_array.rows": [16]}}, {"zip": {"pe_array.rows": [32]}}])"),
               {"axes[1].zip[\"pe_array.rows\"]", "already given by axes[0].grid[\"pe_array.rows\"]"});
  // Structure.
  expect_error(spec(R"("axes": [{"cube": {}}])"), {"axes[0]", "\"grid\", \"zip\", \"list\" or \"random\""});
  expect_error(spec(R"("objectives": [{"metric": "total.cycles", "goal": "least"}])"), {"objectives[0].goal", "min, max"});
  expect_error(spec(R"("run_options": {"accuracy_rows": -1})"), {"run_options.accuracy_rows", "out of range"});
  expect_error(spec(R"("timeout_s": 0)"), {"timeout_s", "out of range"});
  expect_error(spec(R"("axis": [])"), {"axis", "unknown key"});
  // Missing files.
  expect_error("{\"arch\": \"nowhere/arch.json\", " + wl + "}", {"arch", "nowhere/arch.json", "cannot open"});
  expect_error("{" + arch + ", \"workload\": \"nowhere.json\"}", {"workload", "nowhere.json", "cannot open"});
  expect_error("{" + arch + "}", {"workloads", "expected either"});
  expect_error("{" + arch + ", " + wl + ", }", {"malformed JSON"});
  EXPECT_THROW(SweepSpec::load(scratch() + "/no_such_spec.json"), InputError);
}

TEST(SweepSpec, RelativePathsResolveAgainstTheSpecFolder) {
  const SweepSpec s = SweepSpec::load(kSrc + "/configs/sweeps/small_grid.json");
  EXPECT_EQ(s.arch_file, kSrc + "/configs/arch/sanger.json");
  EXPECT_EQ(s.workloads[0].file, kSrc + "/workloads/synthetic_small.json");
  EXPECT_EQ(s.points.size(), 4u);
  const SweepSpec bench = SweepSpec::load(kSrc + "/configs/sweeps/sanger_pe_grid.json");
  EXPECT_EQ(bench.points.size(), 64u);
}

// Found by fuzz/sweep_fuzzer (docs/fuzzing.md): a number past double's range
// (1e999) threw nlohmann's out_of_range, and a folder given as the spec threw
// std::ios_base::failure, instead of an InputError naming the spec file.
TEST(SweepSpec, FuzzHugeNumbersAndFoldersAreInputErrors) {
  expect_error(base_spec().dump().insert(1, "\"set\": {\"clock_ghz\": 1e999}, "), {"1e999"});
  const std::string dir = scratch() + "/a_folder.json";
  std::filesystem::create_directories(dir);
  try {
    SweepSpec::load(dir);
    FAIL() << "accepted a folder";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(dir), std::string::npos) << e.what();
  }
}
