// Reuse of functional results across runs (attnsim run --functional-cache):
// a run that finds the values of an earlier one reports exactly what a fresh
// run reports.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "report/report.h"

using namespace attnsim_test;
using nlohmann::json;

namespace {
json report(const std::string& p) { return json::parse(slurp(p)); }
}  // namespace

TEST(FunctionalCache, HardwareOnlyChangesReuseValuesAndMatchFreshRuns) {
  const std::string cache = scratch() + "/fcache";
  const std::string base = "run -q -a configs/arch/sanger.json -w workloads/synthetic_small.json ";
  ASSERT_EQ(run_attnsim(base + "-o " + scratch() + "/c1.json --functional-cache " + cache).code, 0);
  EXPECT_EQ(report(scratch() + "/c1.json")["simulator"]["functional_cache_hits"], 0);
  // A different array shape: same values, so every head comes from the cache.
  ASSERT_EQ(run_attnsim(base + "-o " + scratch() + "/c2.json --set pe_array.rows=32 --set memory.dram.bandwidth_gbps=64 "
                               "--functional-cache " + cache)
                .code,
            0);
  ASSERT_EQ(run_attnsim(base + "-o " + scratch() + "/fresh.json --set pe_array.rows=32 --set memory.dram.bandwidth_gbps=64").code,
            0);
  const json cached = report(scratch() + "/c2.json"), fresh = report(scratch() + "/fresh.json");
  EXPECT_EQ(cached["simulator"]["functional_cache_hits"], 2 * 4);  // 2 layers x 4 heads
  EXPECT_EQ(attnsim::without_host_fields(cached).dump(), attnsim::without_host_fields(fresh).dump());
  // A threshold change alters the values: no reuse.
  ASSERT_EQ(run_attnsim(base + "-o " + scratch() + "/c3.json --set mask_unit.threshold=0.01 --functional-cache " + cache).code,
            0);
  EXPECT_EQ(report(scratch() + "/c3.json")["simulator"]["functional_cache_hits"], 0);
}

TEST(FunctionalCache, AccuracyRowsSampleTheReference) {
  const std::string out = scratch() + "/sampled.json";
  ASSERT_EQ(run_attnsim("run -q -a configs/arch/sanger.json -w workloads/synthetic_small.json --accuracy-rows 16 -o " + out).code, 0);
  const json r = report(out);
  EXPECT_EQ(r["total"]["accuracy"]["compared_rows"], 2 * 4 * 16);
  EXPECT_GT(r["total"]["mask"]["recall"].get<double>(), 0.5);
  // A sample says so, with the recall's 95 % interval around its estimate;
  // the recall of all rows falls in it here.
  EXPECT_TRUE(r["total"]["accuracy"]["sampled"].get<bool>());
  const auto ci = r["total"]["mask"]["recall_ci95"].get<std::vector<double>>();
  ASSERT_EQ(ci.size(), 2u);
  const double est = r["total"]["mask"]["recall"];
  EXPECT_LT(ci[0], est);
  EXPECT_GT(ci[1], est);
  const std::string all = scratch() + "/all_rows.json";
  ASSERT_EQ(run_attnsim("run -q -a configs/arch/sanger.json -w workloads/synthetic_small.json -o " + all).code, 0);
  const json full = report(all);
  EXPECT_FALSE(full["total"]["accuracy"].contains("sampled"));
  EXPECT_FALSE(full["total"]["mask"].contains("recall_ci95"));
  const double truth = full["total"]["mask"]["recall"];
  EXPECT_GE(truth, ci[0]);
  EXPECT_LE(truth, ci[1]);
  EXPECT_EQ(run_attnsim("run -q -a configs/arch/sanger.json -w workloads/synthetic_small.json --accuracy-rows -1 -o " + out).code, 2);
}

TEST(FunctionalCache, ConcurrentWritersOfOneEntryAreSafe) {
  // Three runs of one functional class at once (as sweep workers may be):
  // each computes and stores the same entries; renames keep them whole.
  const std::string cache = scratch() + "/fcache_concurrent", bin = ATTNSIM_BIN;
  const std::string base = bin + " run -q -a configs/arch/sanger.json -w workloads/synthetic_small.json --functional-cache " +
                           cache + " -o " + scratch() + "/cc";
  const std::string cmd = "cd " + kSrc + " && { " + base + "0.json & a=$!; " + base +
                          "1.json --set pe_array.rows=32 & b=$!; " + base +
                          "2.json --set pe_array.rows=16 & c=$!; wait $a && wait $b && wait $c; }";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  for (const auto& e : std::filesystem::recursive_directory_iterator(cache))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  ASSERT_EQ(run_attnsim("run -q -a configs/arch/sanger.json -w workloads/synthetic_small.json --set pe_array.rows=32 "
                        "--functional-cache " + cache + " -o " + scratch() + "/cc3.json")
                .code,
            0);
  const json reused = report(scratch() + "/cc3.json");
  EXPECT_EQ(reused["simulator"]["functional_cache_hits"], 2 * 4);
  EXPECT_EQ(attnsim::without_host_fields(reused).dump(), attnsim::without_host_fields(report(scratch() + "/cc1.json")).dump());
}

// The key covers what the tensor files hold, not only their names: after
// q.npy changes, a rerun computes (and matches a fresh run on the new data).
TEST(FunctionalCache, ChangedTensorFilesAreNotServedFromTheCache) {
  namespace fs = std::filesystem;
  const std::string dir = scratch() + "/npy_workload", cache = scratch() + "/fcache_npy";
  fs::create_directories(dir + "/data");
  fs::copy_file(kSrc + "/workloads/minilm_s128.json", dir + "/w.json");
  for (const char* t : {"q", "k", "v"})
    fs::copy_file(kSrc + "/workloads/data/minilm_s128_" + std::string(t) + ".npy",
                  dir + "/data/minilm_s128_" + std::string(t) + ".npy");
  const std::string base = "run -q -a configs/arch/sanger.json -w " + dir + "/w.json --layers 1 ";
  ASSERT_EQ(run_attnsim(base + "-o " + scratch() + "/n1.json --functional-cache " + cache).code, 0);
  // New query values, same file names and shapes: the keys as queries.
  fs::copy_file(dir + "/data/minilm_s128_k.npy", dir + "/data/minilm_s128_q.npy", fs::copy_options::overwrite_existing);
  ASSERT_EQ(run_attnsim(base + "-o " + scratch() + "/n2.json --functional-cache " + cache).code, 0);
  ASSERT_EQ(run_attnsim(base + "-o " + scratch() + "/n_fresh.json").code, 0);
  const json again = report(scratch() + "/n2.json"), fresh = report(scratch() + "/n_fresh.json");
  EXPECT_EQ(again["simulator"]["functional_cache_hits"], 0);
  EXPECT_EQ(attnsim::without_host_fields(again).dump(), attnsim::without_host_fields(fresh).dump());
  EXPECT_NE(report(scratch() + "/n1.json")["total"]["mask"]["density"], fresh["total"]["mask"]["density"]);
}

// A flipped byte in an entry fails its checksum: the head is recomputed, the
// run says so on stderr, and the report equals a fresh run's.
TEST(FunctionalCache, ADamagedEntryIsRecomputedAndReported) {
  namespace fs = std::filesystem;
  const std::string cache = scratch() + "/fcache_damaged";
  const std::string base = "run -q -a configs/arch/sanger.json -w workloads/synthetic_small.json ";
  ASSERT_EQ(run_attnsim(base + "-o " + scratch() + "/d1.json --functional-cache " + cache).code, 0);
  std::string entry;
  for (const auto& e : fs::recursive_directory_iterator(cache))
    if (e.path().filename() == "L0_G1.bin") entry = e.path().string();
  ASSERT_FALSE(entry.empty());
  {
    std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(entry) / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(entry) / 2));
    c = static_cast<char>(c ^ 0x40);
    f.write(&c, 1);
  }
  const CliResult r = run_attnsim(base + "-o " + scratch() + "/d2.json --functional-cache " + cache);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: damaged functional-cache entry " + entry + ": checksum mismatch; recomputed"),
            std::string::npos)
      << r.err;
  const json again = report(scratch() + "/d2.json");
  EXPECT_EQ(again["simulator"]["functional_cache_hits"], 2 * 4 - 1);
  EXPECT_EQ(attnsim::without_host_fields(again).dump(), attnsim::without_host_fields(report(scratch() + "/d1.json")).dump());
  // The recomputed entry replaced the damaged one.
  const CliResult third = run_attnsim(base + "-o " + scratch() + "/d3.json --functional-cache " + cache);
  EXPECT_EQ(third.err, "");
  EXPECT_EQ(report(scratch() + "/d3.json")["simulator"]["functional_cache_hits"], 2 * 4);
}

// The same in a sweep rerun into the same --out: the points of the changed
// workload run again, and their masks are not taken from the earlier run's cache.
TEST(FunctionalCache, ASweepRerunAfterTheTensorsChangedMatchesAFreshSweep) {
  namespace fs = std::filesystem;
  const std::string dir = scratch() + "/sweep_npy";
  fs::create_directories(dir + "/data");
  fs::copy_file(kSrc + "/workloads/minilm_s128.json", dir + "/w.json");
  for (const char* t : {"q", "k", "v"})
    fs::copy_file(kSrc + "/workloads/data/minilm_s128_" + std::string(t) + ".npy",
                  dir + "/data/minilm_s128_" + std::string(t) + ".npy");
  const json spec = {{"arch", kSrc + "/configs/arch/sanger.json"},
                     {"workload", dir + "/w.json"},
                     {"run_options", {{"layers", 1}}},
                     {"axes", {{{"grid", {{"pe_array.rows", {16, 32}}}}}}}};
  std::ofstream(dir + "/spec.json") << spec.dump();
  ASSERT_EQ(run_attnsim("sweep -q " + dir + "/spec.json -o " + dir + "/out").code, 0);
  fs::copy_file(dir + "/data/minilm_s128_k.npy", dir + "/data/minilm_s128_q.npy", fs::copy_options::overwrite_existing);
  ASSERT_EQ(run_attnsim("sweep -q " + dir + "/spec.json -o " + dir + "/out").code, 0);
  ASSERT_EQ(run_attnsim("sweep -q --no-reuse " + dir + "/spec.json -o " + dir + "/fresh").code, 0);
  const json again = report(dir + "/out/summary.json"), fresh = report(dir + "/fresh/summary.json");
  ASSERT_EQ(again["points"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(again["points"][i]["metrics"], fresh["points"][i]["metrics"]) << i;
    EXPECT_EQ(again["points"][i]["hash"], fresh["points"][i]["hash"]) << i;
  }
}
