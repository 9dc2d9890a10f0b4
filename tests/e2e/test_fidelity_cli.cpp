// "fidelity": "cycle" swaps the PE array (and SpAtten's top-k engine) for its
// clocked register-level model (docs/fidelity.md); the run must report
// exactly what the fast model reports.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "report/report.h"

using namespace attnsim_test;
using nlohmann::json;

TEST(Fidelity, CycleAccurateRunsReportWhatTheFastModelReports) {
  // The pruner needs its two layers: no token pruning in the first.
  for (const std::string arch : {"sanger", "dense_systolic", "spatten_pruner_systolic"}) {
    const std::string fast = scratch() + "/fast_" + arch + ".json", cyc = scratch() + "/cycle_" + arch + ".json";
    const std::string layers = arch == "spatten_pruner_systolic" ? "" : "--layers 1 ";
    const std::string base = "run -q -a configs/arch/" + arch + ".json -w workloads/synthetic_small.json " + layers;
    ASSERT_EQ(run_attnsim(base + "-o " + fast).code, 0);
    const CliResult r = run_attnsim(base + "--set fidelity=cycle -o " + cyc);
    ASSERT_EQ(r.code, 0) << r.err;
    json a = attnsim::without_host_fields(json::parse(slurp(fast)));
    json b = attnsim::without_host_fields(json::parse(slurp(cyc)));
    EXPECT_EQ(b["arch"]["fidelity"], "cycle");
    EXPECT_EQ(b["run"]["overrides"], json({"fidelity=cycle"}));
    for (json* r : {&a, &b}) {  // all else the same
      (*r)["arch"].erase("fidelity");
      r->erase("run");
    }
    EXPECT_EQ(a["total"]["cycles"], b["total"]["cycles"]) << arch;
    EXPECT_EQ(a.dump(), b.dump()) << arch;
  }
}
