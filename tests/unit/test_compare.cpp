#include <gtest/gtest.h>

#include "report/compare.h"

using namespace attnsim;
using nlohmann::json;

namespace {
CompareInput report(const std::string& name, int64_t cycles, double time_us, double density, bool with_mask = true) {
  json r = {{"arch", {{"name", name}}},
            {"total", {{"cycles", cycles}, {"time_us", time_us}, {"macs", {{"pe_array", 1000}}}}}};
  if (with_mask) r["total"]["mask"] = {{"density", density}};
  return {name, r};
}
}  // namespace

TEST(Compare, TableShowsRatiosToTheBaseline) {
  const std::string t = compare_reports({report("dense", 2000, 2.0, 1.0), report("sanger", 500, 0.5, 0.2)}, 0,
                                        TableFormat::text);
  EXPECT_NE(t.find("dense (baseline)"), std::string::npos);
  EXPECT_NE(t.find("500 (0.25x)"), std::string::npos);
  EXPECT_NE(t.find("4x"), std::string::npos);  // speedup
  EXPECT_NE(t.find("0.2"), std::string::npos);
}

TEST(Compare, MissingMetricsShowAsDash) {
  const std::string t = compare_reports({report("a", 10, 1, 0.5), report("b", 20, 2, 0, false)}, 0,
                                        TableFormat::csv);
  EXPECT_NE(t.find("mask density,0.5,-"), std::string::npos);
  EXPECT_EQ(t.find("GPU time"), std::string::npos);  // absent from all: no row
}

TEST(Compare, MarkdownIsATable) {
  const std::string t = compare_reports({report("a", 10, 1, 0.5), report("b", 20, 2, 0.5)}, 1, TableFormat::markdown);
  EXPECT_EQ(t.rfind("| metric", 0), 0u);
  EXPECT_NE(t.find("b (baseline)"), std::string::npos);
  EXPECT_NE(t.find("-: |"), std::string::npos);  // right-aligned numbers
}
