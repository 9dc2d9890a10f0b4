// attnsim sweep end to end: points run as child processes and match single
// runs; failures are recorded and retried; a sweep killed with -9 resumes to
// the same summary; shards merge to the unsharded summary; bad specs write nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_runner.h"
#include "report/report.h"

using namespace attnsim_test;
using nlohmann::json;
using ojson = nlohmann::ordered_json;  // specs keep their written order, as files do
namespace fs = std::filesystem;

namespace {

template <class Json>
std::string write_spec(const std::string& name, const Json& spec) {
  const std::string file = scratch() + "/" + name;
  std::ofstream(file) << spec.dump(2);
  return file;
}

// Sanger on one layer of the small synthetic workload.
ojson small_spec(const ojson& axes) {
  return {{"arch", kSrc + "/configs/arch/sanger.json"},
          {"workload", kSrc + "/workloads/synthetic_small.json"},
          {"run_options", {{"layers", 1}}},
          {"axes", axes}};
}

ojson grid(const std::vector<int>& rows, const std::vector<int>& pes) {
  return ojson::array({{{"grid", {{"pe_array.rows", rows}, {"pe_array.pes_per_row", pes}}}}});
}

json load(const std::string& file) { return json::parse(slurp(file)); }

// A summary without what varies between identical runs.
json without_host(json s) {
  s.erase("host");
  for (auto& p : s["points"]) p.erase("host");
  return s;
}

// The CSV without its host columns (wall time, cache hits).
std::string csv_without_host(const std::string& file) {
  std::istringstream in(slurp(file));
  std::string line, out;
  std::vector<bool> keep;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string c; std::getline(s, c, ',');) cells.push_back(c);
    if (line.back() == ',') cells.push_back("");
    if (keep.empty())
      for (const auto& c : cells) keep.push_back(c != "wall_time_s" && c != "functional_cache_hits");
    for (size_t i = 0; i < cells.size(); ++i)
      if (i >= keep.size() || keep[i]) out += cells[i] + ",";
    out += "\n";
  }
  return out;
}

size_t count_reports(const std::string& out) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out + "/points", ec))
    n += e.path().extension() == ".json";
  return n;
}

}  // namespace

TEST(Sweep, SmallGridRunsEveryPointLikeSingleRuns) {
  const std::string spec = write_spec("grid.json", small_spec(grid({32, 64}, {8, 16})));
  const std::string out = scratch() + "/sweep_grid";
  const CliResult r = run_attnsim("sweep " + spec + " -o " + out + " -j 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Pareto front"), std::string::npos) << r.out;
  const json s = load(out + "/summary.json");
  EXPECT_EQ(s["counts"], json({{"points", 4}, {"ok", 4}, {"failed", 0}}));
  EXPECT_EQ(s["parameters"], json({"pe_array.rows", "pe_array.pes_per_row"}));
  ASSERT_EQ(s["points"].size(), 4u);
  // The last point equals a plain run with the same overrides.
  const json& p3 = s["points"][3];
  EXPECT_EQ(p3["params"], json({{"pe_array.rows", 64}, {"pe_array.pes_per_row", 16}}));
  ASSERT_EQ(run_attnsim("run -q -a configs/arch/sanger.json -w workloads/synthetic_small.json --layers 1 "
                        "--set pe_array.rows=64 --set pe_array.pes_per_row=16 -o " + scratch() + "/single.json")
                .code,
            0);
  const json single = load(scratch() + "/single.json"), swept = load(out + "/" + p3["report"].get<std::string>());
  EXPECT_EQ(attnsim::without_host_fields(swept), attnsim::without_host_fields(single));
  EXPECT_EQ(p3["metrics"]["cycles"], single["total"]["cycles"]);
  // Fewer rows, more cycles: the 64-row points are on the front, one objective used.
  std::vector<int64_t> cycles;
  for (const auto& p : s["points"]) cycles.push_back(p["metrics"]["cycles"].get<int64_t>());
  EXPECT_GT(cycles[0], cycles[2]);
  const auto fastest = std::min_element(cycles.begin(), cycles.end()) - cycles.begin();
  const auto front = s["pareto"].get<std::vector<int>>();
  EXPECT_NE(std::find(front.begin(), front.end(), fastest), front.end());
  // An objective is used exactly when the reports have its metric (energy and
  // area: only once reports carry them).
  for (const auto& o : s["objectives"])
    EXPECT_EQ(o["used"].get<bool>(), s["points"][0]["objectives"][o["metric"].get<std::string>()].is_number()) << o;
  EXPECT_TRUE(s["objectives"][0]["used"].get<bool>());
  // One functional class: the first point computes, the 3 others reuse its
  // 4 heads (1 layer).
  EXPECT_EQ(s["host"]["functional_cache_hits"], 3 * 4);
  EXPECT_EQ(s["host"]["points_run"], 4);
  const std::string csv = slurp(out + "/summary.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  EXPECT_EQ(csv.rfind("point,hash,status,pe_array.rows,pe_array.pes_per_row,workload,cycles,time_us,", 0), 0u) << csv;
  EXPECT_FALSE(fs::exists(out + "/summary.json.tmp"));

  // Again: nothing to run, the same summary.
  ASSERT_EQ(run_attnsim("sweep -q " + spec + " -o " + out).code, 0);
  const json again = load(out + "/summary.json");
  EXPECT_EQ(again["host"]["points_run"], 0);
  EXPECT_EQ(again["host"]["points_found"], 4);
  EXPECT_EQ(without_host(again), without_host(s));
  // Without reuse: no cache hits, the same results.
  const std::string fresh = scratch() + "/sweep_noreuse";
  ASSERT_EQ(run_attnsim("sweep -q --no-reuse -j 2 " + spec + " -o " + fresh).code, 0);
  const json no_reuse = load(fresh + "/summary.json");
  EXPECT_EQ(no_reuse["host"]["functional_cache_hits"], 0);
  EXPECT_FALSE(fs::exists(fresh + "/functional"));
  EXPECT_EQ(without_host(no_reuse), without_host(s));
  EXPECT_EQ(csv_without_host(fresh + "/summary.csv"), csv_without_host(out + "/summary.csv"));
}

TEST(Sweep, FailedPointsAreRecordedAndRetried) {
  // A 512-wide head does not fit a 1 KiB double-buffered Q buffer: `run`
  // fails at run time for that point only.
  std::ofstream(scratch() + "/wide.json") << json{{"name", "wide"},  {"layers", 1},   {"heads", 1},
                                                  {"seq_len", 16},   {"head_dim", 512}, {"data", {{"kind", "synthetic"}}}}
                                                 .dump();
  const std::string spec = write_spec(
      "failing.json", ojson{{"arch", kSrc + "/configs/arch/sanger.json"},
                       {"workload", scratch() + "/wide.json"},
                       {"axes", {{{"list", {{{"memory.sram_kib.q", 64}}, {{"memory.sram_kib.q", 1}}, {{"pe_array.rows", 8}}}}}}}});
  const std::string out = scratch() + "/sweep_failing";
  const CliResult r = run_attnsim("sweep " + spec + " -o " + out + " -j 2");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("point 1"), std::string::npos) << r.err;
  const json s = load(out + "/summary.json");
  EXPECT_EQ(s["counts"], json({{"points", 3}, {"ok", 2}, {"failed", 1}}));
  const json& bad = s["points"][1];
  EXPECT_EQ(bad["status"], "failed");
  EXPECT_TRUE(bad["report"].is_null());
  EXPECT_NE(bad["error"].get<std::string>().find("exit code 2"), std::string::npos) << bad;
  EXPECT_NE(bad["error"].get<std::string>().find("holds no query row"), std::string::npos) << bad;
  EXPECT_EQ(s["points"][2]["status"], "ok");
  EXPECT_NE(slurp(out + "/summary.csv").find(",failed,"), std::string::npos);
  // A rerun retries only the failed point (and fails it again).
  const CliResult again = run_attnsim("sweep -q " + spec + " -o " + out);
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(load(out + "/summary.json")["host"]["points_run"], 1);

  // A point over its time limit is killed and recorded; a rerun with more time succeeds.
  const std::string one = write_spec("one.json", small_spec(grid({32}, {16})));
  const std::string slow = scratch() + "/sweep_timeout";
  EXPECT_EQ(run_attnsim("sweep -q " + one + " -o " + slow + " --timeout 0.001").code, 1);
  const json t = load(slow + "/summary.json");
  EXPECT_EQ(t["points"][0]["status"], "failed");
  EXPECT_EQ(t["points"][0]["error"].get<std::string>().rfind("timeout after 0.001 s", 0), 0u) << t["points"][0];
  EXPECT_EQ(run_attnsim("sweep -q " + one + " -o " + slow).code, 0);
  EXPECT_EQ(load(slow + "/summary.json")["points"][0]["status"], "ok");
  for (const auto& e : fs::directory_iterator(slow + "/points"))  // the killed child's temporary file is gone
    EXPECT_EQ(e.path().extension(), ".json") << e.path();
}

TEST(Sweep, ResumesAfterKillMinus9) {
  const std::string spec = write_spec("resume.json", small_spec(grid({16, 32, 64, 128}, {4, 8, 16})));
  const std::string full = scratch() + "/sweep_full", killed = scratch() + "/sweep_killed";
  ASSERT_EQ(run_attnsim("sweep -q " + spec + " -o " + full + " -j 2").code, 0);

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (chdir(kSrc.c_str()) != 0) _exit(126);
    execl(ATTNSIM_BIN, ATTNSIM_BIN, "sweep", "-q", "-j", "1", spec.c_str(), "-o", killed.c_str(), nullptr);
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (count_reports(killed) < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the sweep ended before it was killed";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its running child dies with it
  const size_t done = count_reports(killed);
  ASSERT_GE(done, 2u);
  ASSERT_LT(done, 12u);
  EXPECT_FALSE(fs::exists(killed + "/summary.json"));

  ASSERT_EQ(run_attnsim("sweep -q " + spec + " -o " + killed + " -j 2").code, 0);
  const json resumed = load(killed + "/summary.json");
  EXPECT_EQ(resumed["host"]["points_found"], done);
  EXPECT_EQ(resumed["host"]["points_run"], 12 - done);
  EXPECT_EQ(without_host(resumed), without_host(load(full + "/summary.json")));
  EXPECT_EQ(csv_without_host(killed + "/summary.csv"), csv_without_host(full + "/summary.csv"));
}

TEST(Sweep, ShardsMergeToTheUnshardedSummary) {
  const std::string spec = write_spec("shards.json", small_spec(grid({16, 32, 64}, {8, 16})));
  const std::string whole = scratch() + "/sweep_whole", shared = scratch() + "/sweep_shared";
  ASSERT_EQ(run_attnsim("sweep -q -j 2 " + spec + " -o " + whole).code, 0);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(run_attnsim("sweep -q " + spec + " -o " + shared + " --shard " + std::to_string(i) + "/3").code, 0);
  EXPECT_FALSE(fs::exists(shared + "/summary.json"));
  const json shard1 = load(shared + "/summary.shard-1-of-3.json");
  ASSERT_EQ(shard1["points"].size(), 2u);
  EXPECT_EQ(shard1["points"][0]["index"], 1);
  EXPECT_EQ(shard1["points"][1]["index"], 4);
  const CliResult merged = run_attnsim("sweep --merge " + shared);
  ASSERT_EQ(merged.code, 0) << merged.err;
  EXPECT_NE(merged.out.find("Pareto front"), std::string::npos);
  const json expected = without_host(load(whole + "/summary.json"));
  EXPECT_EQ(without_host(load(shared + "/summary.json")), expected);
  EXPECT_EQ(csv_without_host(shared + "/summary.csv"), csv_without_host(whole + "/summary.csv"));

  // Shards in separate folders (separate machines), merged into a third.
  const std::string d0 = scratch() + "/sweep_d0", d1 = scratch() + "/sweep_d1", m = scratch() + "/sweep_merged";
  ASSERT_EQ(run_attnsim("sweep -q " + spec + " -o " + d0 + " --shard 0/2").code, 0);
  const CliResult missing = run_attnsim("sweep --merge " + d0);
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("shard 1 of 2 is missing"), std::string::npos) << missing.err;
  ASSERT_EQ(run_attnsim("sweep -q " + spec + " -o " + d1 + " --shard 1/2").code, 0);
  ASSERT_EQ(run_attnsim("sweep -q --merge " + d0 + " " + d1 + " --out " + m).code, 0);
  EXPECT_EQ(without_host(load(m + "/summary.json")), expected);
  EXPECT_EQ(count_reports(m), 6u);
}

TEST(Sweep, BadSpecsAndOptionsWriteNothing) {
  const std::string out = scratch() + "/sweep_bad";
  auto expect_bad = [&](const std::string& args, std::initializer_list<std::string> fragments) {
    const CliResult r = run_attnsim("sweep " + args + " -o " + out);
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << "missing '" << f << "' in: " << r.err;
    EXPECT_FALSE(fs::exists(out)) << args;
  };
  const std::string unknown = write_spec("unknown.json", small_spec(ojson::array({{{"grid", {{"pe_array.colz", {1}}}}}})));
  expect_bad(unknown, {"unknown.json", "axes[0].grid[\"pe_array.colz\"]", "unknown key"});
  const std::string uneven = write_spec(
      "uneven.json", small_spec(ojson::array({{{"zip", {{"pe_array.rows", {16, 32}}, {"memory.sram_kib.k", {8}}}}}})));
  expect_bad(uneven, {"uneven.json", "unequal lengths"});
  expect_bad(scratch() + "/absent_spec.json", {"absent_spec.json", "cannot open"});
  const std::string ok = write_spec("ok.json", small_spec(grid({32}, {16})));
  expect_bad(ok + " --shard 2/2", {"--shard"});
  expect_bad(ok + " -j 0", {"--jobs"});
  const CliResult no_out = run_attnsim("sweep " + ok);
  EXPECT_EQ(no_out.code, 2);
  EXPECT_NE(no_out.err.find("--out"), std::string::npos);
  // --dry-run lists the points and writes nothing.
  const CliResult dry = run_attnsim("sweep --dry-run " + write_spec("dry.json", small_spec(grid({16, 32}, {8, 16}))));
  EXPECT_EQ(dry.code, 0);
  EXPECT_NE(dry.out.find("4 points, 4 distinct, 1 functional classes"), std::string::npos) << dry.out;
}

TEST(Sweep, TheSpecsInTheManualsAreShippedFilesAndValid) {
  // The manuals show shipped files verbatim, so a reader can copy them.
  const std::pair<const char*, const char*> shown[] = {{"docs/dse.md", "configs/sweeps/every_axis.json"},
                                                       {"docs/search.md", "configs/search/every_field.json"}};
  for (const auto& [manual, file] : shown) {
    const std::string doc = slurp(kSrc + "/" + manual), spec = slurp(kSrc + "/" + file);
    const size_t intro = doc.find(std::string("`") + file + "`");
    ASSERT_NE(intro, std::string::npos) << manual;
    const size_t start = doc.find("```json\n", intro);
    ASSERT_NE(start, std::string::npos) << manual;
    const size_t body = start + 8, end = doc.find("```", body);
    EXPECT_EQ(doc.substr(body, end - body), spec) << manual;
    const CliResult r = run_attnsim("sweep " + kSrc + "/" + file + " --dry-run");
    EXPECT_EQ(r.code, 0) << file << ": " << r.err;
  }
  EXPECT_NE(run_attnsim("sweep " + kSrc + "/configs/sweeps/every_axis.json --dry-run").out.find("192 points"),
            std::string::npos);
}
