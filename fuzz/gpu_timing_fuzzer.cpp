// Fuzzes the GPU-timing reader (attnsim run --gpu-timing FILE):
// read_gpu_timing, then check_gpu_timing against the shipped small workload.
// Invariants: an accepted timing has a positive finite time and, when it
// passes the check, describes that workload.
#include <cmath>

#include "fuzz_common.h"
#include "report/gpu_timing.h"

namespace {
const attnsim::WorkloadSpec& run_workload() {
  static const attnsim::WorkloadSpec w = attnsim::WorkloadSpec::load(ATTNSIM_SOURCE_DIR "/workloads/synthetic_small.json");
  return w;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = fuzz::input_file("timing.json", data, size);
  attnsim::GpuTiming t;
  if (!fuzz::accepts([&] { t = attnsim::read_gpu_timing(file); })) return 0;
  const double us = t.report.at("time_us").get<double>();
  FUZZ_CHECK(std::isfinite(us) && us > 0, "accepted a non-positive or non-finite time");
  const auto& w = run_workload();
  for (const char* algorithm : {"dense", "sanger"})
    if (fuzz::accepts([&] { attnsim::check_gpu_timing(t, file, algorithm, w); }))
      FUZZ_CHECK((t.seq_len == 0 || t.seq_len == w.seq_len) && (t.heads == 0 || t.heads == w.heads) &&
                     (t.head_dim == 0 || t.head_dim == w.head_dim) && (t.batch == 0 || t.batch == w.batch),
                 "check_gpu_timing accepted a timing of different shapes");
  return 0;
}
