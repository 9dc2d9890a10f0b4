// Fuzzes the sweep-spec loader (SweepSpec::load, as `attnsim sweep` reads a
// spec): the spec sits in configs/sweeps/ of the scratch folder, so
// "../arch/sanger.json" and "../../workloads/synthetic_small.json" reach the
// shipped files. Invariants: an accepted spec has points, each naming a
// workload it holds, and run_args for each.
#include <set>

#include "dse/sweep_spec.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = fuzz::input_file("configs/sweeps/spec.json", data, size);
  attnsim::SweepSpec s;
  if (!fuzz::accepts([&] { s = attnsim::SweepSpec::load(file); })) return 0;
  FUZZ_CHECK(!s.points.empty() && !s.workloads.empty(), "an accepted spec without points");
  for (const auto& p : s.points) {
    FUZZ_CHECK(p.workload < s.workloads.size(), "a point names a workload the spec does not hold");
    FUZZ_CHECK(!s.run_args(p, "r.json", "").empty(), "no run arguments");
  }
  return 0;
}
