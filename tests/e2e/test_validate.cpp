// The simulator's tensors against the committed GPU goldens (gpu_ref/golden/,
// made on an H100 from the same dumps): CI has no GPU, so this is how every
// run of the tests checks attnsim against real GPU output.
#include <gtest/gtest.h>

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
                                         "minilm_s128_l1__dense_fp32"));

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
