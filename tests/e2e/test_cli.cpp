#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "csv_table.h"
#include "report/report.h"
#include "util/npy.h"

using namespace attnsim_test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kSanger = "configs/arch/sanger.json";
const std::string kSmall = "workloads/synthetic_small.json";

std::string write_file(const std::string& name, const std::string& text) {
  const std::string p = scratch() + "/" + name;
  std::ofstream(p) << text;
  return p;
}

json load(const std::string& p) { return json::parse(slurp(p)); }

// A bad input: exit 2, one line on stderr naming every fragment, no report.
void expect_bad_input(const std::string& args, std::initializer_list<std::string> fragments) {
  const std::string out = scratch() + "/bad_report.json";
  fs::remove(out);
  const CliResult r = run_attnsim(args + " --out " + out);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << "missing '" << f << "' in: " << r.err;
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(scratch()))  // no temporary file left either
    EXPECT_NE(e.path().filename().string().rfind("bad_report.json.tmp", 0), 0u) << e.path();
}

std::string arch_with(const std::function<void(json&)>& edit, const std::string& name) {
  json a = load(kSrc + "/" + kSanger);
  edit(a);
  return write_file(name, a.dump());
}

}  // namespace

TEST(Cli, HelpDocumentsEveryOption) {
  const CliResult r = run_attnsim("run --help");
  EXPECT_EQ(r.code, 0);
  for (const char* o : {"--arch", "--workload", "--out", "--dump", "--set", "--layers", "--quiet"})
    EXPECT_NE(r.out.find(o), std::string::npos) << o;
  EXPECT_EQ(run_attnsim("").code, 2);
  EXPECT_EQ(run_attnsim("frobnicate").code, 2);
  EXPECT_EQ(run_attnsim("--version").code, 0);
}

TEST(Cli, RunWritesAReportAndASummary) {
  const std::string out = scratch() + "/r.json";
  const CliResult r = run_attnsim("run -a " + kSanger + " -w " + kSmall + " -o " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("cycles"), std::string::npos);
  EXPECT_EQ(r.err.find("SystemC"), std::string::npos);  // no banner
  const json j = load(out);
  EXPECT_EQ(j["arch"]["name"], "sanger-64x16");
  EXPECT_GT(j["total"]["cycles"].get<int64_t>(), 0);
  EXPECT_EQ(j["layers"].size(), 2u);
}

TEST(Cli, QuietIsQuiet) {
  const CliResult r = run_attnsim("run -q -a " + kSanger + " -w " + kSmall + " -o " + scratch() + "/q.json");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(Cli, SameInputsGiveByteIdenticalReports) {
  const std::string a = scratch() + "/a.json", b = scratch() + "/b.json";
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w " + kSmall + " -o " + a).code, 0);
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w " + kSmall + " -o " + b).code, 0);
  EXPECT_EQ(attnsim::without_host_fields(load(a)).dump(), attnsim::without_host_fields(load(b)).dump());
}

TEST(Cli, SetOverridesAndLayers) {
  const std::string out = scratch() + "/s.json";
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w " + kSmall + " -o " + out +
                    " --set pe_array.rows=16 --set mask_unit.threshold=0.05 --layers 1")
                .code,
            0);
  const json j = load(out);
  EXPECT_EQ(j["arch"]["pe_array"]["rows"], 16);
  EXPECT_EQ(j["arch"]["mask_unit"]["threshold"], 0.05);
  EXPECT_EQ(j["layers"].size(), 1u);
  EXPECT_EQ(j["workload"]["layers_simulated"], 1);
}

TEST(Cli, BadArchInputs) {
  expect_bad_input("run -a " + write_file("malformed.json", "{\"name\": ") + " -w " + kSmall,
                   {"malformed.json", "malformed JSON"});
  expect_bad_input("run -a " + arch_with([](json& a) { a["pe_array"]["bogus"] = 1; }, "unknown.json") + " -w " + kSmall,
                   {"unknown.json", "pe_array.bogus", "unknown key"});
  expect_bad_input("run -a " + arch_with([](json& a) { a["clock_ghz"] = 50; }, "range.json") + " -w " + kSmall,
                   {"range.json", "clock_ghz", "out of range"});
  expect_bad_input("run -a configs/arch/nonexistent.json -w " + kSmall, {"nonexistent.json", "cannot open"});
  expect_bad_input("run -a " + kSanger + " -w " + kSmall + " --set pe_array.rows=0", {"pe_array.rows", "out of range"});
  expect_bad_input("run -a " + kSanger + " -w " + kSmall + " --layers 0", {"--layers"});
  expect_bad_input("run -a " + kSanger, {"workload"});
  const std::string wide = write_file("wide.json", json{{"name", "wide"}, {"layers", 1}, {"heads", 1}, {"seq_len", 8},
                                                        {"head_dim", 1024}, {"data", {{"kind", "synthetic"}}}}
                                                       .dump());
  expect_bad_input("run -a " + kSanger + " -w " + wide + " --set memory.sram_kib.q=1",
                   {"sanger.json", "memory.sram_kib.q", "holds no query row"});
}

TEST(Cli, BadWorkloadData) {
  const std::string dir = scratch();
  std::vector<float> good(1 * 2 * 16 * 8, 0.25f);
  auto workload = [&](const std::string& name, const std::string& q) {
    return write_file(name, json{{"name", "w"}, {"layers", 1}, {"heads", 2}, {"seq_len", 16}, {"head_dim", 8},
                                 {"data", {{"kind", "npy"}, {"q", q}, {"k", "k.npy"}, {"v", "v.npy"}}}}
                                .dump());
  };
  attnsim::write_npy(dir + "/k.npy", attnsim::DType::f32, {1, 2, 16, 8}, good.data());
  attnsim::write_npy(dir + "/v.npy", attnsim::DType::f32, {1, 2, 16, 8}, good.data());
  attnsim::write_npy(dir + "/q.npy", attnsim::DType::f32, {1, 2, 16, 8}, good.data());
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w " + workload("ok.json", "q.npy") + " -o " + dir + "/ok_report.json").code, 0);

  attnsim::write_npy(dir + "/q_shape.npy", attnsim::DType::f32, {1, 2, 8, 16}, good.data());
  expect_bad_input("run -a " + kSanger + " -w " + workload("w1.json", "q_shape.npy"), {"q_shape.npy", "shape"});
  std::vector<int32_t> ints(good.size(), 1);
  attnsim::write_npy(dir + "/q_int.npy", attnsim::DType::i32, {1, 2, 16, 8}, ints.data());
  expect_bad_input("run -a " + kSanger + " -w " + workload("w2.json", "q_int.npy"), {"q_int.npy", "dtype"});
  std::vector<float> nan = good;
  nan[37] = std::numeric_limits<float>::quiet_NaN();
  attnsim::write_npy(dir + "/q_nan.npy", attnsim::DType::f32, {1, 2, 16, 8}, nan.data());
  expect_bad_input("run -a " + kSanger + " -w " + workload("w3.json", "q_nan.npy"), {"q_nan.npy", "element 37", "NaN"});
  std::vector<float> inf = good;
  inf[3] = -std::numeric_limits<float>::infinity();
  attnsim::write_npy(dir + "/q_inf.npy", attnsim::DType::f32, {1, 2, 16, 8}, inf.data());
  expect_bad_input("run -a " + kSanger + " -w " + workload("w4.json", "q_inf.npy"), {"q_inf.npy", "Inf"});
  expect_bad_input("run -a " + kSanger + " -w " + workload("w5.json", "absent.npy"), {"absent.npy", "does not exist"});
  expect_bad_input("run -a " + kSanger + " -w " + write_file("w6.json", "{\"name\": \"x\", \"layers\": 1}"),
                   {"w6.json", "heads", "missing"});
}

TEST(Cli, DumpWritesEveryTensorAtomically) {
  const std::string dump = scratch() + "/dump";
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w " + kSmall + " -o " + scratch() + "/d.json --dump " + dump).code, 0);
  EXPECT_FALSE(fs::exists(dump + ".partial"));
  for (const char* t : {"q", "k", "v", "q_quant", "k_quant", "quant_scales", "pred_scores", "pred_probs",
                        "mask_indptr", "mask_indices", "mask_offsets", "scores", "probs", "output"})
    EXPECT_TRUE(fs::exists(dump + "/" + t + ".npy")) << t;
  const json meta = load(dump + "/meta.json");
  EXPECT_EQ(meta["algorithm"], "sanger");
  const auto out = attnsim::read_npy_header(dump + "/output.npy");
  EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 4, 128, 32}));
  const auto idx = attnsim::read_npy_header(dump + "/mask_indices.npy");
  EXPECT_EQ(idx.shape[0], meta["nnz"].get<int64_t>());
  EXPECT_EQ(attnsim::read_npy_header(dump + "/scores.npy").shape[0], meta["nnz"].get<int64_t>());

  // A failing run leaves neither a report nor a dump directory behind.
  const std::string dump2 = scratch() + "/dump_bad";
  const CliResult r = run_attnsim("run -a " + kSanger + " -w workloads/minilm_s128.json --set pe_array.rows=0 -o " +
                              scratch() + "/x.json --dump " + dump2);
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(fs::exists(dump2));
  EXPECT_FALSE(fs::exists(dump2 + ".partial"));
}

TEST(Cli, CompareReadsReports) {
  const std::string a = scratch() + "/ca.json", b = scratch() + "/cb.json";
  ASSERT_EQ(run_attnsim("run -q -a configs/arch/dense_systolic.json -w " + kSmall + " -o " + a).code, 0);
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w " + kSmall + " -o " + b).code, 0);
  const CliResult t = run_attnsim("compare " + a + " " + b);
  EXPECT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("dense-systolic-32x32 (baseline)"), std::string::npos);
  EXPECT_NE(t.out.find("speedup"), std::string::npos);
  EXPECT_EQ(run_attnsim("compare --format markdown --baseline sanger-64x16 " + a + " " + b).out.rfind("| metric", 0), 0u);
  const CliResult bad = run_attnsim("compare " + a + " " + write_file("notreport.json", "{\"x\": 1}"));
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("notreport.json"), std::string::npos);
  EXPECT_EQ(run_attnsim("compare --format xml " + a).code, 2);
  EXPECT_NE(run_attnsim("compare --help").out.find("arg (=table)"), std::string::npos);
}

TEST(Cli, CompareTellsRunsApart) {
  // A run with --set is named by its overrides; --name names it outright.
  const std::string base = scratch() + "/tn_base.json", small = scratch() + "/tn_small.json",
                    named = scratch() + "/tn_named.json", other = scratch() + "/tn_other.json";
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w " + kSmall + " -o " + base).code, 0);
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w " + kSmall + " -o " + small + " --set pe_array.rows=32").code, 0);
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w " + kSmall + " -o " + named + " --name mine").code, 0);
  const json rs = json::parse(slurp(small));
  EXPECT_EQ(rs["run"]["name"], "sanger-64x16 [pe_array.rows=32]");
  EXPECT_EQ(rs["run"]["overrides"], json({"pe_array.rows=32"}));
  EXPECT_EQ(json::parse(slurp(base))["run"]["name"], "sanger-64x16");
  CliResult r = run_attnsim("compare --format csv --baseline mine " + base + " " + small + " " + named);
  ASSERT_EQ(r.code, 0) << r.err;
  auto t = attnsim_test::parse_csv(r.out);
  EXPECT_EQ(t.size(), 3u) << r.out;
  EXPECT_EQ(t["mine"]["baseline"], "1");
  EXPECT_EQ(t["sanger-64x16 [pe_array.rows=32]"]["baseline"], "0");
  EXPECT_EQ(r.err, "");  // one workload: no warning
  // The same name twice: the columns carry their files, and the name alone is ambiguous.
  r = run_attnsim("compare --format csv " + base + " " + named + " " + base);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(attnsim_test::parse_csv(r.out).count("sanger-64x16 <" + base + ">"), 1u) << r.out;
  r = run_attnsim("compare --baseline sanger-64x16 " + base + " " + base);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--baseline: 'sanger-64x16' names 2 columns"), std::string::npos) << r.err;
  // Different workloads: compared, with a warning.
  ASSERT_EQ(run_attnsim("run -q -a " + kSanger + " -w workloads/minilm_s128.json --layers 1 -o " + other).code, 0);
  r = run_attnsim("compare " + base + " " + other);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: the columns come from 2 workloads"), std::string::npos) << r.err;
}

TEST(Cli, PythonToolsNeedTheirEnvironment) {
  // attnsim report/search run a script of the tree with its .venv (or ATTNSIM_PYTHON).
  setenv("ATTNSIM_PYTHON", "/nonexistent/python", 1);
  const CliResult r = run_attnsim("report out/grid");
  unsetenv("ATTNSIM_PYTHON");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("attnsim report: error: /nonexistent/python: no Python environment"), std::string::npos)
      << r.err;
  const CliResult help = run_attnsim("--help");
  for (const char* line : {"--version", "search", "report"}) EXPECT_NE(help.out.find(line), std::string::npos) << line;
}
