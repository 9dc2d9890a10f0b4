// The simulator's tensors against the committed GPU goldens (gpu_ref/golden/,
// made on an H100 from the same dumps): CI has no GPU, so this is how every
// run of the tests checks attnsim against real GPU output.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "util/npy.h"

using namespace attnsim_test;
namespace fs = std::filesystem;

namespace {

// Regenerates the golden dumps once per process with the shipped script.
const std::string& dumps() {
  static const std::string dir = [] {
    const std::string d = scratch() + "/golden_dumps";
    const std::string cmd = "cd " + kSrc + " && ATTNSIM=" + std::string(ATTNSIM_BIN) +
                            " scripts/make_golden_dumps.sh " + d + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "make_golden_dumps.sh failed";
    return d;
  }();
  return dir;
}

const std::string kGolden = kSrc + "/gpu_ref/golden";

class GpuGolden : public testing::TestWithParam<std::string> {};

std::string copy_golden(const std::string& c, const std::string& as) {
  const std::string dst = scratch() + "/" + as;
  fs::remove_all(dst);
  fs::copy(kGolden + "/" + c, dst, fs::copy_options::recursive);
  return dst;
}

}  // namespace

TEST_P(GpuGolden, SimulatorMatchesTheGpu) {
  const std::string c = GetParam();
  const std::string json_out = scratch() + "/" + c + ".validate.json";
  const CliResult r = run_attnsim("validate " + dumps() + "/" + c + " " + kGolden + "/" + c + " --out " + json_out);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos);
  const auto j = nlohmann::json::parse(slurp(json_out));
  EXPECT_TRUE(j["pass"].get<bool>());
  EXPECT_GT(j["tensors"].size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Committed, GpuGolden,
                         testing::Values("synthetic_small__sanger_fp32", "synthetic_small__dense_fp32",
                                         "synthetic_small__sanger", "minilm_s128_l1__sanger_fp32",
                                         "minilm_s128_l1__dense_fp32", "synthetic_small__spatten_fp32",
                                         "synthetic_small__spatten", "minilm_s128_l3__spatten_fp32",
                                         "longctx_s2k__dynamiqk_fp32", "multimodal_small__dynamiqk_fp32",
                                         "synthetic_small__elsa_fp32", "minilm_s128_l1__elsa_fp32"));

namespace {
// The check row `name` of a validate --out JSON.
nlohmann::json check_row(const nlohmann::json& j, const std::string& name) {
  for (const auto& t : j["tensors"])
    if (t["name"] == name) return t;
  ADD_FAILURE() << "no check " << name;
  return {};
}
}  // namespace

TEST(Validate, APrunedTokenFarFromTheCutFails) {
  // Layer 1 of the GPU golden keeps the least important token instead of the
  // simulator's weakest kept one: not a near-tie, so the kept sets fail.
  const std::string gpu = copy_golden("synthetic_small__spatten_fp32", "token_flip");
  const std::string sim = dumps() + "/synthetic_small__spatten_fp32";
  attnsim::NpyHeader h, hi;
  std::vector<double> alive = attnsim::read_npy_doubles(gpu + "/token_alive.npy", &h);
  const std::vector<double> imp = attnsim::read_npy_doubles(sim + "/token_importance.npy", &hi);
  const int S = static_cast<int>(h.shape[2]);
  int weakest_kept = -1, weakest_pruned = -1;
  for (int t = 0; t < S; ++t) {
    const double x = imp[S + t];
    if (alive[S + t] != 0 && (weakest_kept < 0 || x < imp[S + weakest_kept])) weakest_kept = t;
    if (alive[S + t] == 0 && (weakest_pruned < 0 || x < imp[S + weakest_pruned])) weakest_pruned = t;
  }
  ASSERT_GE(weakest_kept, 0);
  ASSERT_GE(weakest_pruned, 0);
  alive[S + weakest_kept] = 0;
  alive[S + weakest_pruned] = 1;
  std::vector<int8_t> a(alive.begin(), alive.end());
  attnsim::write_npy(gpu + "/token_alive.npy", attnsim::DType::i8, h.shape, a.data());
  const std::string out = scratch() + "/token_flip.json";
  const CliResult r = run_attnsim("validate " + sim + " " + gpu + " --out " + out);
  EXPECT_EQ(r.code, 1) << r.out;
  const auto j = nlohmann::json::parse(slurp(out));
  EXPECT_FALSE(check_row(j, "kept tokens")["pass"].get<bool>());
  EXPECT_EQ(j["details"]["pruning"]["token_flips"], 2);
  // the removed token was the weakest kept one (at the cut), its replacement far below: no tie
  EXPECT_LT(j["details"]["pruning"]["token_near_ties"].get<int>(), 2);
  // the diverged batch element's rows of that layer are left out of the value checks
  EXPECT_GT(j["mask"]["rows_excluded_from_value_checks"].get<int>(), 0);
}

TEST(Validate, ADifferentPatternChoiceOrIndexFails) {
  const std::string sim = dumps() + "/multimodal_small__dynamiqk_fp32";
  // 1. head 1 (an A-shape head) chose another pattern, with no decision
  // margin near a boundary (head 0's vertical-slash choice is a near tie
  // with dense, which validate tolerates)
  std::string gpu = copy_golden("multimodal_small__dynamiqk_fp32", "choice_flip");
  nlohmann::json heads = nlohmann::json::parse(slurp(gpu + "/heads.json"));
  ASSERT_EQ(heads[1]["plan"]["by_query"][0]["pattern"], "a_shape");
  heads[1]["plan"]["by_query"][0]["pattern"] = "dense";
  std::ofstream(gpu + "/heads.json") << heads.dump();
  std::string out = scratch() + "/choice_flip.json";
  CliResult r = run_attnsim("validate " + sim + " " + gpu + " --out " + out);
  EXPECT_EQ(r.code, 1) << r.out;
  nlohmann::json j = nlohmann::json::parse(slurp(out));
  EXPECT_FALSE(check_row(j, "pattern choice")["pass"].get<bool>());
  EXPECT_EQ(j["details"]["patterns"]["heads_excluded"], 1);
  // 2. a vertical-slash head selects its lowest-scoring column instead of a kept one
  gpu = copy_golden("multimodal_small__dynamiqk_fp32", "index_flip");
  heads = nlohmann::json::parse(slurp(gpu + "/heads.json"));
  bool changed = false;
  for (auto& h : heads) {
    auto& p = h["plan"]["by_query"][0];
    if (p["pattern"] != "vertical_slash" || changed) continue;
    std::vector<int> v = p["verticals"].get<std::vector<int>>();
    for (int x = 0; x < static_cast<int>(h["estimates"]["sets"][0]["keys"]) && !changed; ++x)
      if (std::find(v.begin(), v.end(), x) == v.end()) {
        v.back() = x;  // x: the first unselected column (low scores: not a near tie of the cut)
        std::sort(v.begin(), v.end());
        p["verticals"] = v;
        changed = true;
      }
  }
  ASSERT_TRUE(changed);
  std::ofstream(gpu + "/heads.json") << heads.dump();
  out = scratch() + "/index_flip.json";
  r = run_attnsim("validate " + sim + " " + gpu + " --out " + out);
  EXPECT_EQ(r.code, 1) << r.out;
  j = nlohmann::json::parse(slurp(out));
  EXPECT_FALSE(check_row(j, "indices")["pass"].get<bool>());
  EXPECT_EQ(j["details"]["patterns"]["index_flips"], 2);
}

TEST(Validate, AWrongOutputFails) {
  const std::string gpu = copy_golden("synthetic_small__sanger_fp32", "tampered");
  attnsim::NpyHeader h;
  std::vector<double> out = attnsim::read_npy_doubles(gpu + "/output.npy", &h);
  std::vector<float> f(out.begin(), out.end());
  f[1000] += 0.01f;
  attnsim::write_npy(gpu + "/output.npy", attnsim::DType::f32, h.shape, f.data());
  const CliResult r = run_attnsim("validate " + dumps() + "/synthetic_small__sanger_fp32 " + gpu);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL"), std::string::npos);
}

TEST(Validate, DifferentWorkloadsAreRejected) {
  const CliResult r = run_attnsim("validate " + dumps() + "/synthetic_small__sanger_fp32 " + kGolden +
                                  "/minilm_s128_l1__sanger_fp32");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("different runs"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST(Validate, MissingOrMisshapedTensorsAreRejected) {
  const std::string gpu = copy_golden("synthetic_small__dense_fp32", "no_output");
  fs::remove(gpu + "/output.npy");
  CliResult r = run_attnsim("validate " + dumps() + "/synthetic_small__dense_fp32 " + gpu);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("output"), std::string::npos) << r.err;
  const std::string bad = copy_golden("synthetic_small__dense_fp32", "bad_shape");
  std::vector<float> small(10, 0.f);
  attnsim::write_npy(bad + "/output.npy", attnsim::DType::f32, {10}, small.data());
  r = run_attnsim("validate " + dumps() + "/synthetic_small__dense_fp32 " + bad);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("shape"), std::string::npos) << r.err;
  r = run_attnsim("validate " + dumps() + "/synthetic_small__dense_fp32 /nonexistent");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/nonexistent/meta.json"), std::string::npos) << r.err;
}

namespace {
// Rewrites one element of DIR/NAME.npy (any dtype) in place.
void set_element(const std::string& dir, const std::string& name, size_t at, double value) {
  attnsim::NpyHeader h;
  std::vector<double> v = attnsim::read_npy_doubles(dir + "/" + name + ".npy", &h);
  v.at(at) = value;
  const std::string path = dir + "/" + name + ".npy";
  switch (h.dtype) {
    case attnsim::DType::i8: {
      std::vector<int8_t> x(v.begin(), v.end());
      attnsim::write_npy(path, h.dtype, h.shape, x.data());
      break;
    }
    case attnsim::DType::i32: {
      std::vector<int32_t> x(v.begin(), v.end());
      attnsim::write_npy(path, h.dtype, h.shape, x.data());
      break;
    }
    case attnsim::DType::i64: {
      std::vector<int64_t> x(v.begin(), v.end());
      attnsim::write_npy(path, h.dtype, h.shape, x.data());
      break;
    }
    case attnsim::DType::f64: attnsim::write_npy(path, h.dtype, h.shape, v.data()); break;
    default: {
      std::vector<float> x(v.begin(), v.end());
      attnsim::write_npy(path, attnsim::DType::f32, h.shape, x.data());
    }
  }
}

std::string copy_dump(const std::string& c, const std::string& as) {
  const std::string dst = scratch() + "/" + as;
  fs::remove_all(dst);
  fs::copy(dumps() + "/" + c, dst, fs::copy_options::recursive);
  return dst;
}
}  // namespace

// A NaN never passes, on either side, whether one value or all of them.
TEST(Validate, NonFiniteValuesAreRejected) {
  const std::string c = "synthetic_small__sanger_fp32";
  for (const char* tensor : {"output", "probs", "scores"}) {
    const std::string gpu = copy_golden(c, std::string("nan_gpu_") + tensor);
    set_element(gpu, tensor, 17, std::nan(""));
    CliResult r = run_attnsim("validate " + dumps() + "/" + c + " " + gpu);
    EXPECT_EQ(r.code, 2) << tensor << ": " << r.out;
    EXPECT_NE(r.err.find(gpu + "/" + tensor + ".npy: element 17: NaN"), std::string::npos) << r.err;
    const std::string sim = copy_dump(c, std::string("inf_sim_") + tensor);
    set_element(sim, tensor, 3, INFINITY);
    r = run_attnsim("validate " + sim + " " + kGolden + "/" + c);
    EXPECT_EQ(r.code, 2) << tensor << ": " << r.out;
    EXPECT_NE(r.err.find(sim + "/" + tensor + ".npy: element 3: Inf"), std::string::npos) << r.err;
  }
  // An all-NaN simulator output.
  const std::string sim = copy_dump(c, "all_nan");
  attnsim::NpyHeader h = attnsim::read_npy_header(sim + "/output.npy");
  std::vector<float> nan(static_cast<size_t>(h.count()), std::nanf(""));
  attnsim::write_npy(sim + "/output.npy", attnsim::DType::f32, h.shape, nan.data());
  const CliResult r = run_attnsim("validate " + sim + " " + kGolden + "/" + c);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(r.out.find("PASS"), std::string::npos) << r.out;
}

// Indices read from a dump are checked before use: no crash, one line naming
// the file and element, exit 2 — on either side.
TEST(Validate, OutOfRangeMaskIndicesAreRejected) {
  const std::string c = "synthetic_small__sanger_fp32";
  struct Case {
    const char* tensor;
    size_t at;
    double value;
  };
  for (const Case& k : {Case{"mask_indptr", 5, 1e9}, Case{"mask_indices", 10, -1}, Case{"mask_indices", 0, 1e6},
                        Case{"mask_offsets", 1, -5}, Case{"mask_indptr", 3, -2}}) {
    for (const bool gpu_side : {false, true}) {
      const std::string dir = gpu_side ? copy_golden(c, "bad_index_gpu") : copy_dump(c, "bad_index_sim");
      set_element(dir, k.tensor, k.at, k.value);
      const CliResult r = run_attnsim("validate " + (gpu_side ? dumps() + "/" + c + " " + dir
                                                             : dir + " " + kGolden + "/" + c));
      EXPECT_EQ(r.code, 2) << k.tensor << " " << k.value << (gpu_side ? " (gpu)" : " (sim)") << ": " << r.out << r.err;
      EXPECT_NE(r.err.find(dir + "/" + k.tensor + ".npy: element "), std::string::npos) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
  }
}

// SpAtten's requantisation: a row flagged against the rule (its first-pass
// maximum far above tau, yet recomputed) fails, on a fixed-point run whose
// probability bound is too loose to catch it.
TEST(Validate, AWrongRequantisationDecisionFails) {
  const std::string c = "synthetic_small__spatten";
  const std::string gpu = copy_golden(c, "requant_flip");
  attnsim::NpyHeader h;
  const std::vector<double> req = attnsim::read_npy_doubles(gpu + "/row_requantised.npy", &h);
  const std::vector<double> top = attnsim::read_npy_doubles(gpu + "/row_top_prob.npy");
  const double tau = nlohmann::json::parse(slurp(gpu + "/meta.json"))["dump_meta"]["params"]["requant_threshold"];
  size_t row = 0;
  while (row < top.size() && !(req[row] == 0 && top[row] > 3 * tau)) ++row;
  ASSERT_LT(row, top.size());
  // First: the golden passes as committed.
  const std::string out = scratch() + "/requant.json";
  CliResult r = run_attnsim("validate " + dumps() + "/" + c + " " + gpu + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  set_element(gpu, "row_requantised", row, 1);
  r = run_attnsim("validate " + dumps() + "/" + c + " " + gpu + " --out " + out);
  EXPECT_EQ(r.code, 1) << r.out;
  const auto j = nlohmann::json::parse(slurp(out));
  EXPECT_FALSE(check_row(j, "requantised rows")["pass"].get<bool>());
  EXPECT_EQ(j["details"]["pruning"]["requantised_against_rule"], 1);
}
