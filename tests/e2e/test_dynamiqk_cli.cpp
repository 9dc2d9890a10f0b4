// attnsim run with the DynamiQK presets and workloads, as a user runs it.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "workload/workload.h"

using namespace attnsim_test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kSanger = "configs/arch/dynamiqk_sanger.json";
const std::string kSystolic = "configs/arch/dynamiqk_systolic.json";
const std::string k4k = "workloads/longctx_s4k.json";
const std::string kSmallSeq =
    " --set mask_unit.budget=0.3 --set mask_unit.init_columns=4 --set mask_unit.min_vertical=4"
    " --set mask_unit.n_init=4 --set mask_unit.local_diagonals=16 --set mask_unit.min_slash=16";

json load(const std::string& p) { return json::parse(slurp(p)); }

std::string write_file(const std::string& name, const json& j) {
  const std::string p = scratch() + "/" + name;
  std::ofstream(p) << j.dump(1);
  return p;
}

json run_ok(const std::string& args, const std::string& name) {
  const std::string out = scratch() + "/" + name;
  const CliResult r = run_attnsim("run --quiet " + args + " --out " + out);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? load(out) : json();
}

void expect_bad_input(const std::string& args, std::initializer_list<std::string> fragments) {
  const std::string out = scratch() + "/bad.json";
  fs::remove(out);
  const CliResult r = run_attnsim("run " + args + " --out " + out);
  EXPECT_EQ(r.code, 2) << r.err;
  for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << "missing '" << f << "' in: " << r.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace

TEST(DynamiqkCli, DetectorPicksEachHeadsPatternOnTheShippedWorkload) {
  const json r = run_ok("-a " + kSanger + " -w " + k4k + " --accuracy-rows 256", "dq_sanger.json");
  ASSERT_FALSE(r.is_null());
  const auto w = attnsim::WorkloadSpec::load(kSrc + "/" + k4k);
  int n = 0;
  for (size_t l = 0; l < r["layers"].size(); ++l)
    for (const auto& h : r["layers"][l]["heads"]) {
      EXPECT_EQ(h["pattern"], attnsim::long_context_head_kind(w.long_context, 0, static_cast<int>(l), h["head"]))
          << h.dump();
      ++n;
    }
  EXPECT_EQ(n, 16);
  EXPECT_EQ(r["total"]["units"]["mask_unit"]["kind"], "pattern_detector");
  EXPECT_GT(r["total"]["mask"]["recall"].get<double>(), 0.9);
}

TEST(DynamiqkCli, TheSameMaskFeedsTheSangerArrayAndTheSystolicBaseline) {
  const std::string args = " -w " + k4k + " --layers 1 --accuracy-rows 64";
  const json a = run_ok("-a " + kSanger + args, "dq_a.json"), b = run_ok("-a " + kSystolic + args, "dq_b.json");
  ASSERT_FALSE(a.is_null() || b.is_null());
  EXPECT_EQ(a["total"]["mask"]["kept"], b["total"]["mask"]["kept"]);
  EXPECT_EQ(a["layers"][0]["heads"], b["layers"][0]["heads"]);
  EXPECT_EQ(a["total"]["units"]["mask_unit"]["busy_cycles"], b["total"]["units"]["mask_unit"]["busy_cycles"]);
}

TEST(DynamiqkCli, APatternFileReplacesTheOnlineChoice) {
  const std::string args = " -w " + k4k + " --layers 1 --accuracy-rows 64";
  const json online = run_ok("-a " + kSanger + args, "dq_online.json");
  ASSERT_FALSE(online.is_null());
  const json offline =
      run_ok("-a " + kSanger + args + " --set mask_unit.pattern_file=" + scratch() + "/dq_online.json", "dq_file.json");
  ASSERT_FALSE(offline.is_null());
  const auto& h0 = online["layers"][0]["heads"], h1 = offline["layers"][0]["heads"];
  ASSERT_EQ(h0.size(), h1.size());
  for (size_t i = 0; i < h0.size(); ++i) {
    EXPECT_EQ(h1[i]["pattern"], h0[i]["pattern"]);
    EXPECT_EQ(h1[i]["source"], "pattern_file");
  }
  EXPECT_EQ(offline["total"]["units"]["mask_unit"]["counts"]["candidates_evaluated"], 0);
  EXPECT_LT(offline["total"]["units"]["mask_unit"]["busy_cycles"], online["total"]["units"]["mask_unit"]["busy_cycles"]);
  EXPECT_EQ(offline["total"]["mask"]["kept"], online["total"]["mask"]["kept"]);
}

TEST(DynamiqkCli, MultimodalWorkloadsRun) {
  for (const char* w : {"workloads/multimodal_small.json", "workloads/multimodal_frames.json"}) {
    const json r = run_ok("-a " + kSanger + " -w " + w + kSmallSeq, "dq_mm.json");
    ASSERT_FALSE(r.is_null());
    for (const auto& h : r["layers"][0]["heads"]) EXPECT_TRUE(h.contains("boundary")) << w;
  }
  const json s = run_ok("-a configs/arch/dynamiqk_local_stride.json -w workloads/multimodal_small.json"
                        " --set mask_unit.pattern=\"modality\" --set mask_unit.default_rule=\"same_segment\"",
                        "dq_static.json");
  ASSERT_FALSE(s.is_null());
  EXPECT_GT(s["total"]["units"]["mask_unit"]["counts"]["blocks_partial"].get<int>(), 0);
}

TEST(DynamiqkCli, BadNewKeysAreClearErrors) {
  json a = load(kSrc + "/" + kSanger);
  a["mask_unit"]["candidates"] = {"a_shape", "spiral"};
  expect_bad_input("-a " + write_file("bad_cand.json", a) + " -w " + k4k, {"bad_cand.json", "mask_unit.candidates", "spiral"});
  a = load(kSrc + "/" + kSanger);
  a["mask_unit"]["granularity"] = "fine";
  expect_bad_input("-a " + write_file("bad_gran.json", a) + " -w " + k4k, {"mask_unit.granularity"});
  json w = load(kSrc + "/workloads/multimodal_small.json");
  w["data"]["segments"][1]["grid"] = {16, 15};
  expect_bad_input("-a " + kSanger + " -w " + write_file("bad_seg.json", w),
                   {"bad_seg.json", "data.segments", "add up to 656 tokens, but seq_len is 672"});
  w = load(kSrc + "/" + k4k);
  w["data"]["mix"]["spiral"] = 1;
  expect_bad_input("-a " + kSanger + " -w " + write_file("bad_mix.json", w), {"data.mix.spiral", "unknown key"});
  w = load(kSrc + "/workloads/synthetic_small.json");
  expect_bad_input("-a " + kSanger + " -w " + kSrc + "/workloads/synthetic_small.json", {"causal"});
  expect_bad_input("-a " + kSanger + " -w " + k4k + " --set mask_unit.pattern_file=/no/such.json",
                   {"mask_unit.pattern_file", "does not exist"});
}

// Heads are prepared on a pool of threads (--threads); the report must not
// depend on how many: same bytes for 1, 2 and 5 threads, with the sampled
// accuracy reference and the detector's estimation both prepared ahead.
TEST(DynamiqkCli, TheReportIsTheSameForAnyThreadCount) {
  std::vector<json> reports;
  for (int threads : {1, 2, 5}) {
    json r = run_ok("-a " + kSanger + " -w workloads/longctx_s2k_small.json --accuracy-rows 64 --threads " +
                        std::to_string(threads),
                    "dq_threads_" + std::to_string(threads) + ".json");
    ASSERT_FALSE(r.is_null());
    r.erase("simulator");  // wall time and host
    reports.push_back(r);
  }
  EXPECT_EQ(reports[0].dump(), reports[1].dump());
  EXPECT_EQ(reports[0].dump(), reports[2].dump());
  EXPECT_GT(reports[0]["total"]["cycles"].get<int64_t>(), 0);
  expect_bad_input("-a " + kSanger + " -w workloads/longctx_s2k_small.json --threads 0", {"--threads"});
}

// Tiles' masks as their structure (--mask-form auto, the default) or listed
// as CSR (enumerated): the same report for each DynamiQK preset, including a
// multimodal workload where only some heads' patterns have a structure.
TEST(DynamiqkCli, StructuredAndEnumeratedMasksGiveTheSameReport) {
  for (const std::string& arch : {kSanger, kSystolic, std::string("configs/arch/dynamiqk_local_stride.json")})
    for (const std::string w : {"workloads/longctx_s2k_small.json", "workloads/multimodal_small.json"}) {
      json a = run_ok("-a " + arch + " -w " + w + " --accuracy-rows 32", "dq_structured.json");
      json b = run_ok("-a " + arch + " -w " + w + " --accuracy-rows 32 --mask-form enumerated", "dq_enumerated.json");
      ASSERT_FALSE(a.is_null() || b.is_null());
      EXPECT_GT(a["simulator"]["structured_tiles"].get<int64_t>(), 0) << arch << " " << w;
      EXPECT_EQ(b["simulator"]["structured_tiles"].get<int64_t>(), 0);
      a.erase("simulator");
      b.erase("simulator");
      EXPECT_EQ(a.dump(), b.dump()) << arch << " " << w;
    }
  // Every row compared: the structured tiles are listed for the comparison; still the same.
  json a = run_ok("-a " + kSystolic + " -w workloads/longctx_s2k_small.json", "dq_all_rows.json");
  json b = run_ok("-a " + kSystolic + " -w workloads/longctx_s2k_small.json --mask-form enumerated", "dq_all_rows_e.json");
  a.erase("simulator");
  b.erase("simulator");
  EXPECT_EQ(a.dump(), b.dump());
  expect_bad_input("-a " + kSanger + " -w workloads/longctx_s2k_small.json --mask-form listed", {"--mask-form"});
}
