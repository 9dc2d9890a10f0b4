// attnsim run --gpu-timing: a measured GPU time (gpu_ref/timings/*.json, made
// on the GPU machine) attached to a simulator report, and compare's rows for it.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "csv_table.h"

using namespace attnsim_test;

TEST(GpuTiming, TheReportCarriesTheGpuTimeAndCompareShowsTheSpeedup) {
  const std::string timing = "gpu_ref/timings/minilm_s128__sanger.json";
  const auto t = nlohmann::json::parse(slurp(kSrc + "/" + timing));
  const std::string with = scratch() + "/with_gpu.json", without = scratch() + "/without_gpu.json";
  CliResult r = run_attnsim("run -q -a configs/arch/sanger_fp32.json -w workloads/minilm_s128.json -o " + with + " --gpu-timing " + timing);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rep = nlohmann::json::parse(slurp(with));
  ASSERT_TRUE(rep.contains("gpu"));
  EXPECT_EQ(rep["gpu"]["name"], t["gpu"]);
  EXPECT_DOUBLE_EQ(rep["gpu"]["time_us"].get<double>(), t["time_us"].get<double>());
  EXPECT_NE(rep["gpu"]["source"].get<std::string>().find("minilm_s128__sanger.json"), std::string::npos);

  r = run_attnsim("run -q -a configs/arch/dense_fp32.json -w workloads/minilm_s128.json -o " + without);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_attnsim("compare " + with + " " + without + " --format csv");
  ASSERT_EQ(r.code, 0) << r.err;
  // GPU time only where attached; the speedup is the GPU time over the simulated time.
  const double speedup = t["time_us"].get<double>() / rep["total"]["time_us"].get<double>();
  auto table = attnsim_test::parse_csv(r.out);
  const std::string with_name = rep["run"]["name"], without_name = "dense-fp32";
  EXPECT_DOUBLE_EQ(std::stod(table[with_name]["gpu_time_us"]), t["time_us"].get<double>()) << r.out;
  EXPECT_EQ(table[without_name]["gpu_time_us"], "") << r.out;  // empty where no GPU time is attached
  EXPECT_NEAR(std::stod(table[with_name]["speedup_over_gpu"]), speedup, 1e-12 * speedup) << r.out;
  EXPECT_EQ(table[without_name]["speedup_over_gpu"], "") << r.out;
}

TEST(GpuTiming, ABadTimingFileIsOneClearError) {
  const std::string bad = scratch() + "/bad_timing.json";
  std::ofstream(bad) << R"({"gpu": "NVIDIA H100", "what": "no time"})";
  const std::string out = scratch() + "/never.json";
  const CliResult r = run_attnsim("run -q -a configs/arch/sanger_fp32.json -w workloads/synthetic_small.json -o " + out +
                                  " --gpu-timing " + bad);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("time_us"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

// A timing of another run (other sequence length, algorithm or number of
// layers) would print a wrong speedup: refused, naming the field.
TEST(GpuTiming, ATimingOfAnotherRunIsRefused) {
  const std::string out = scratch() + "/mismatch.json";
  struct Case {
    std::string timing, extra, field;
  };
  const Case cases[] = {
      {"gpu_ref/timings/minilm_s256__sanger.json", "", "workload"},
      {"gpu_ref/timings/minilm_s128__dense.json", "", "path"},
      {"gpu_ref/timings/minilm_s128__sanger.json", " --layers 1", "layers"},
      {"gpu_ref/golden/synthetic_small__sanger/meta.json", "", "dump_meta.workload.name"},
  };
  for (const auto& c : cases) {
    const CliResult r = run_attnsim("run -q -a configs/arch/sanger_fp32.json -w workloads/minilm_s128.json -o " + out +
                                    c.extra + " --gpu-timing " + c.timing);
    EXPECT_EQ(r.code, 2) << c.timing;
    EXPECT_NE(r.err.find(c.timing + ": " + c.field + ": the GPU timing is for"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  // The same checks hold for a seq-256 timing written by hand without a workload name.
  const std::string hand = scratch() + "/hand_timing.json";
  std::ofstream(hand) << R"({"gpu": "H100", "time_us": 10, "path": "sanger", "layers": 6, "heads": 12, "seq_len": 256,
                              "head_dim": 32})";
  const CliResult r = run_attnsim("run -q -a configs/arch/sanger_fp32.json -w workloads/minilm_s128.json -o " + out +
                                  " --gpu-timing " + hand);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("seq_len: the GPU timing is for seq_len 256 but this run simulates seq_len 128"), std::string::npos)
      << r.err;
}

// A timing that does not say what it timed cannot be checked: refused.
TEST(GpuTiming, ATimingWithoutItsShapesIsRefused) {
  const std::string hand = scratch() + "/bare_timing.json", out = scratch() + "/bare.json";
  std::ofstream(hand) << R"({"gpu": "H100", "time_us": 10, "path": "sanger", "layers": 6, "heads": 12})";
  const CliResult r = run_attnsim("run -q -a configs/arch/sanger_fp32.json -w workloads/minilm_s128.json -o " + out +
                                  " --gpu-timing " + hand);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(hand + ": seq_len: missing"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}
