// The shipped presets on the shipped workloads must reproduce the committed
// reports (tests/golden/), apart from host timings: every change of a
// simulated number is deliberate and regenerated with scripts/update_goldens.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "report/report.h"

using namespace attnsim_test;
using nlohmann::json;

namespace {

// Integers and strings must match exactly; floating-point numbers to 1e-9
// relative (they are printed with full precision, so a difference is real).
void compare(const json& want, const json& got, const std::string& path, int& differences) {
  if (differences > 20) return;
  if (want.is_number_float() || got.is_number_float()) {
    if (!want.is_number() || !got.is_number()) {
      ++differences;
      ADD_FAILURE() << path << ": " << want << " vs " << got;
      return;
    }
    const double a = want.get<double>(), b = got.get<double>();
    if (std::abs(a - b) > 1e-9 * std::max({1.0, std::abs(a), std::abs(b)})) {
      ++differences;
      ADD_FAILURE() << path << ": golden " << a << ", now " << b;
    }
    return;
  }
  if (want.type() != got.type()) {
    ++differences;
    ADD_FAILURE() << path << ": golden " << want << ", now " << got;
    return;
  }
  if (want.is_object()) {
    for (auto it = want.begin(); it != want.end(); ++it) {
      if (!got.contains(it.key())) {
        ++differences;
        ADD_FAILURE() << path << "/" << it.key() << " missing";
      } else {
        compare(it.value(), got.at(it.key()), path + "/" + it.key(), differences);
      }
    }
    for (auto it = got.begin(); it != got.end(); ++it)
      if (!want.contains(it.key())) {
        ++differences;
        ADD_FAILURE() << path << "/" << it.key() << " is new";
      }
  } else if (want.is_array()) {
    if (want.size() != got.size()) {
      ++differences;
      ADD_FAILURE() << path << ": " << want.size() << " vs " << got.size() << " entries";
      return;
    }
    for (size_t i = 0; i < want.size(); ++i) compare(want[i], got[i], path + "/" + std::to_string(i), differences);
  } else if (want != got) {
    ++differences;
    ADD_FAILURE() << path << ": golden " << want << ", now " << got;
  }
}

struct Case {
  std::string arch, workload;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.arch << " on " << c.workload; }

class Golden : public testing::TestWithParam<Case> {};

}  // namespace

TEST_P(Golden, ReportMatches) {
  const Case c = GetParam();
  const std::string name = c.arch + "__" + c.workload;
  const std::string out = scratch() + "/" + name + ".json";
  const CliResult r = run_attnsim("run -q -a configs/arch/" + c.arch + ".json -w workloads/" + c.workload + ".json -o " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string golden = kSrc + "/tests/golden/" + name + ".json";
  ASSERT_TRUE(std::filesystem::exists(golden)) << golden << " missing: run scripts/update_goldens.sh";
  int differences = 0;
  compare(attnsim::without_host_fields(json::parse(slurp(golden))), attnsim::without_host_fields(json::parse(slurp(out))),
          "", differences);
}

INSTANTIATE_TEST_SUITE_P(
    Shipped, Golden,
    testing::Values(Case{"sanger", "minilm_s128"}, Case{"sanger", "minilm_s256"}, Case{"sanger", "synthetic_small"},
                    Case{"sanger", "synthetic_bert_base_s512"}, Case{"dense_systolic", "minilm_s128"},
                    Case{"dense_systolic", "minilm_s256"}, Case{"dense_systolic", "synthetic_small"},
                    Case{"dense_systolic", "synthetic_bert_base_s512"}, Case{"sanger_fp32", "minilm_s128"},
                    Case{"dense_fp32", "minilm_s128"}, Case{"spatten", "minilm_s128"},
                    Case{"spatten", "synthetic_small"}, Case{"spatten_eighth", "minilm_s128"},
                    Case{"spatten_pruner_systolic", "minilm_s128"}, Case{"spatten_gpt2_medium", "minilm_s128"},
                    Case{"spatten_gpt2_small", "minilm_s128"}),
    [](const testing::TestParamInfo<Case>& i) { return i.param.arch + "__" + i.param.workload; });
