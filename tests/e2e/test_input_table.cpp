// The table of docs/data_safety.md ("What attnsim does with each kind of
// input") is this file's case list: every row is run here (exit code, the
// message's words, nothing on disk changed), and the committed table must be
// what these cases render. ATTNSIM_UPDATE_DOCS=1 rewrites it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "util/npy.h"

using namespace attnsim_test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kArch = "configs/arch/sanger.json", kSmall = "workloads/synthetic_small.json";

struct Case {
  std::string input;     // the class of input, as the docs table names it
  std::string command;   // attnsim arguments; {d} is the case's own folder
  int exit;              // expected exit code
  std::string says;      // words the one stderr line holds
  std::string on_disk;   // what the docs table says is left
  std::function<void(const std::string& d)> setup = [](const std::string&) {};
};

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}
std::string arch_text() { return slurp(kSrc + "/" + kArch); }
void arch_edit(const std::string& d, const std::function<void(json&)>& edit) {
  json a = json::parse(arch_text());
  edit(a);
  put(d + "/arch.json", a.dump(1));
}
void npy_workload(const std::string& d, const std::vector<int64_t>& q_shape, float poison = 0, bool truncate = false) {
  std::vector<float> x(2 * 16 * 8, 0.25f);
  for (const char* t : {"k", "v"}) attnsim::write_npy(d + "/" + t + ".npy", attnsim::DType::f32, {1, 2, 16, 8}, x.data());
  if (poison != 0) x[37] = poison;
  std::vector<float> q(static_cast<size_t>(q_shape[0] * q_shape[1] * q_shape[2] * q_shape[3]), 0.25f);
  if (poison != 0) q[37] = poison;
  attnsim::write_npy(d + "/q.npy", attnsim::DType::f32, q_shape, q.data());
  if (truncate) fs::resize_file(d + "/q.npy", fs::file_size(d + "/q.npy") - 16);
  put(d + "/w.json", json{{"name", "w"}, {"layers", 1}, {"heads", 2}, {"seq_len", 16}, {"head_dim", 8},
                          {"data", {{"kind", "npy"}, {"q", "q.npy"}, {"k", "k.npy"}, {"v", "v.npy"}}}}
                         .dump());
}
void dump_pair(const std::string& d) {  // a simulator dump and the committed GPU output of the same run
  const std::string cmd = "cd " + kSrc + " && " + std::string(ATTNSIM_BIN) +
                          " run -q -a configs/arch/sanger_fp32.json -w workloads/synthetic_small.json -o " + d +
                          "/sim.report.json --dump " + d + "/sim";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  fs::copy(kSrc + "/gpu_ref/golden/synthetic_small__sanger_fp32", d + "/gpu", fs::copy_options::recursive);
}
void set_i32(const std::string& file, size_t at, int32_t value) {
  attnsim::NpyHeader h = attnsim::read_npy_header(file);
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(h.data_offset + at * 4));
  f.write(reinterpret_cast<const char*>(&value), 4);
}
std::string sweep_spec(int rows) {
  return json{{"arch", kSrc + "/" + kArch}, {"workload", kSrc + "/" + kSmall}, {"run_options", {{"layers", 1}}},
              {"axes", {{{"grid", {{"pe_array.rows", {rows}}}}}}}}
      .dump();
}

const std::string kRunBase = "run -q -a " + kArch + " -w " + kSmall + " --layers 1", kRun = kRunBase + " -o {d}/r.json";
const std::string kUnchanged = "nothing written; inputs unchanged";

// A search space over the PE rows with one objective and (if given) one constraint.
void search_space(const std::string& d, const json& objective, const json& constraint) {
  json s = {{"arch", kSrc + "/" + kArch}, {"workload", kSrc + "/" + kSmall}, {"run_options", {{"layers", 1}}},
            {"space", {{"pe_array.rows", {{"int", {16, 64}}, {"step", 16}}}}}, {"objectives", {objective}}};
  if (!constraint.empty()) s["constraints"] = {constraint};
  put(d + "/space.json", s.dump(1));
}

std::vector<Case> cases() {
  return {
      {"missing file", "run -q -a {d}/absent.json -w " + kSmall + " -o {d}/r.json", 2, "absent.json: cannot open file", kUnchanged},
      {"folder where a file belongs", "run -q -a {d}/folder -w " + kSmall + " -o {d}/r.json", 2, "folder: is a folder", kUnchanged,
       [](const std::string& d) { fs::create_directories(d + "/folder"); }},
      {"malformed JSON", "run -q -a {d}/arch.json -w " + kSmall + " -o {d}/r.json", 2, "arch.json: malformed JSON", kUnchanged,
       [](const std::string& d) { put(d + "/arch.json", "{\"name\": "); }},
      {"a key written twice", "run -q -a {d}/arch.json -w " + kSmall + " -o {d}/r.json", 2,
       "arch.json: clock_ghz: key written twice", kUnchanged,
       [](const std::string& d) {
         std::string t = arch_text();
         put(d + "/arch.json", t.insert(t.find("\"clock_ghz\""), "\"clock_ghz\": 0.5, "));
       }},
      {"number beyond double (1e999)", "run -q -a {d}/arch.json -w " + kSmall + " -o {d}/r.json", 2,
       "arch.json: number out of range", kUnchanged,
       [](const std::string& d) {
         std::string t = arch_text();
         put(d + "/arch.json", t.insert(t.find("\"clock_ghz\""), "\"x\": 1e999, "));
       }},
      {"unknown key", "run -q -a {d}/arch.json -w " + kSmall + " -o {d}/r.json", 2, "arch.json: pe_array.rowz: unknown key",
       kUnchanged, [](const std::string& d) { arch_edit(d, [](json& a) { a["pe_array"]["rowz"] = 1; }); }},
      {"value out of range", "run -q -a {d}/arch.json -w " + kSmall + " -o {d}/r.json", 2,
       "arch.json: clock_ghz: value 50 out of range", kUnchanged,
       [](const std::string& d) { arch_edit(d, [](json& a) { a["clock_ghz"] = 50; }); }},
      {"value of the wrong type", "run -q -a {d}/arch.json -w " + kSmall + " -o {d}/r.json", 2,
       "arch.json: pe_array.rows: expected an integer", kUnchanged,
       [](const std::string& d) { arch_edit(d, [](json& a) { a["pe_array"]["rows"] = "many"; }); }},
      {"--set of an unknown parameter", kRun + " --set pe_array.rowz=4", 2, "pe_array.rowz: unknown key", kUnchanged},
      {"tensor of the wrong shape", "run -q -a " + kArch + " -w {d}/w.json -o {d}/r.json", 2, "q.npy: shape", kUnchanged,
       [](const std::string& d) { npy_workload(d, {1, 2, 8, 16}); }},
      {"NaN or Inf in a tensor", "run -q -a " + kArch + " -w {d}/w.json -o {d}/r.json", 2, "q.npy: element 37: NaN", kUnchanged,
       [](const std::string& d) { npy_workload(d, {1, 2, 16, 8}, std::nanf("")); }},
      {"truncated .npy", "run -q -a " + kArch + " -w {d}/w.json -o {d}/r.json", 2, "q.npy", kUnchanged,
       [](const std::string& d) { npy_workload(d, {1, 2, 16, 8}, 0, true); }},
      {"--layers beyond the workload", "run -q -a " + kArch + " -w " + kSmall + " --layers 99 -o {d}/r.json", 2,
       "--layers: 99 layers asked for, but the workload has only 2", kUnchanged},
      {"run too large for the machine", "run -q -a " + kArch + " -w {d}/w.json -o {d}/r.json", 2,
       "h of CPU time", kUnchanged + " (--allow-large runs it)",
       [](const std::string& d) {
         put(d + "/w.json", json{{"name", "w"}, {"layers", 1}, {"heads", 8}, {"seq_len", 1 << 20}, {"head_dim", 64},
                                 {"data", {{"kind", "synthetic"}}}}
                                .dump());
       }},
      {"-o naming an input", "run -q -a {d}/arch.json -w " + kSmall + " -o {d}/arch.json", 2,
       "arch.json: --out: is the input", kUnchanged, [](const std::string& d) { put(d + "/arch.json", arch_text()); }},
      {"-o naming a file attnsim did not write", kRunBase + " -o {d}/notes.json", 2,
       "notes.json: --out: exists and is not an attnsim report", kUnchanged,
       [](const std::string& d) { put(d + "/notes.json", "{}"); }},
      {"--dump into a folder attnsim did not make", kRun + " --dump {d}/mine", 2,
       "mine: --dump: is a folder that is neither empty nor an attnsim dump", kUnchanged,
       [](const std::string& d) { put(d + "/mine/notes.txt", "mine"); }},
      {"--dump naming a file", kRun + " --dump {d}/notes.txt", 2, "notes.txt: --dump: is a file", kUnchanged,
       [](const std::string& d) { put(d + "/notes.txt", "mine"); }},
      {"--gpu-timing of another run", kRun + " --gpu-timing gpu_ref/timings/minilm_s128__sanger.json", 2,
       "the GPU timing is for minilm_s128 but this run simulates synthetic_small", kUnchanged},
      {"damaged functional-cache entry", kRun + " --functional-cache {d}/cache", 0,
       "warning: damaged functional-cache entry", "report written; the entry recomputed and replaced",
       [](const std::string& d) {
         const std::string cmd = "cd " + kSrc + " && " + std::string(ATTNSIM_BIN) + " " + kRunBase + " -o " + d +
                                 "/first.json --functional-cache " + d + "/cache";
         ASSERT_EQ(std::system(cmd.c_str()), 0);
         for (const auto& e : fs::recursive_directory_iterator(d + "/cache"))
           if (e.path().extension() == ".bin") fs::resize_file(e.path(), fs::file_size(e.path()) - 1);
       }},
      {"sweep spec expanding past --max-points", "sweep {d}/spec.json -o {d}/out --max-points 2", 2,
       "expands to 3 points, more than the limit of 2", kUnchanged,
       [](const std::string& d) {
         put(d + "/spec.json", json{{"arch", kSrc + "/" + kArch}, {"workload", kSrc + "/" + kSmall},
                                    {"axes", {{{"grid", {{"pe_array.rows", {8, 16, 32}}}}}}}}
                                   .dump());
       }},
      {"sweep axis with several bad values", "sweep {d}/spec.json -o {d}/out", 2, "2 of 3 values rejected", kUnchanged,
       [](const std::string& d) {
         put(d + "/spec.json", json{{"arch", kSrc + "/" + kArch}, {"workload", kSrc + "/" + kSmall},
                                    {"axes", {{{"grid", {{"pe_array.rows", {0, 16, -1}}}}}}}}
                                   .dump());
       }},
      {"sweep --out of another spec", "sweep -q {d}/b.json -o {d}/out", 2, "out: --out: holds the points of another sweep spec",
       kUnchanged,
       [](const std::string& d) {
         put(d + "/a.json", sweep_spec(16));
         put(d + "/b.json", sweep_spec(32));
         const std::string cmd = "cd " + kSrc + " && " + std::string(ATTNSIM_BIN) + " sweep -q " + d + "/a.json -o " + d + "/out";
         ASSERT_EQ(std::system(cmd.c_str()), 0);
       }},
      {"sweep --out of a folder attnsim did not make", "sweep -q {d}/a.json -o {d}/mine", 2,
       "mine: --out: is a folder that is neither empty nor a sweep's output", kUnchanged,
       [](const std::string& d) {
         put(d + "/a.json", sweep_spec(16));
         put(d + "/mine/notes.txt", "mine");
       }},
      {"validate: NaN or Inf on either side", "validate {d}/sim {d}/gpu", 2, "output.npy: element 5: NaN", kUnchanged,
       [](const std::string& d) {
         dump_pair(d);
         attnsim::NpyHeader h = attnsim::read_npy_header(d + "/gpu/output.npy");
         std::fstream f(d + "/gpu/output.npy", std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(static_cast<std::streamoff>(h.data_offset + 5 * 4));
         const float nan = std::nanf("");
         f.write(reinterpret_cast<const char*>(&nan), 4);
       }},
      {"validate: an index out of range", "validate {d}/sim {d}/gpu", 2, "mask_indptr.npy: element 3: row pointer", kUnchanged,
       [](const std::string& d) {
         dump_pair(d);
         set_i32(d + "/sim/mask_indptr.npy", 3, 1000000000);
       }},
      {"validate --out naming a file attnsim did not write", "validate {d}/sim {d}/gpu --out {d}/notes.json", 2,
       "notes.json: --out: exists and is not an attnsim validate result", kUnchanged,
       [](const std::string& d) {
         dump_pair(d);
         put(d + "/notes.json", "{}");
       }},
      {"validate: dumps of different runs", "validate {d}/sim gpu_ref/golden/minilm_s128_l1__sanger_fp32", 2, "different runs",
       kUnchanged, dump_pair},
      {"unknown command-line option", kRun + " --speed 11", 2, "unrecognised option '--speed'", kUnchanged},
      {"compare --baseline naming several columns",
       "compare --baseline sanger-64x16 tests/golden/sanger__minilm_s128.json tests/golden/sanger__minilm_s256.json", 2,
       "--baseline: 'sanger-64x16' names 2 columns", kUnchanged},
      {"report of a folder that is no sweep", "report {d}/mine", 2, "summary.json: missing", kUnchanged,
       [](const std::string& d) { put(d + "/mine/notes.txt", "mine"); }},
      {"search objective no report has", "search {d}/space.json -o {d}/out", 2,
       "space.json: objectives[0].metric: unknown column 'total.cyles'", kUnchanged,
       [](const std::string& d) { search_space(d, {{"metric", "total.cyles"}}, {}); }},
      {"search constraint no point can meet", "search {d}/space.json -o {d}/out", 2,
       "space.json: constraints[0].max: impossible", kUnchanged,
       [](const std::string& d) { search_space(d, {{"metric", "total.cycles"}}, {{"metric", "area.total_mm2"}, {"max", -1}}); }},
  };
}

// Path -> contents of every file under d.
std::map<std::string, std::string> snapshot(const std::string& d) {
  std::map<std::string, std::string> s;
  for (const auto& e : fs::recursive_directory_iterator(d))
    s[e.path().string()] = e.is_regular_file() ? slurp(e.path().string()) : "<folder>";
  return s;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

std::string render_table() {
  std::string t = "| input | example | exit | the one line says | left on disk |\n|---|---|---|---|---|\n";
  for (const auto& c : cases())
    t += "| " + c.input + " | `attnsim " + replace_all(c.command, "{d}/", "") + "` | " + std::to_string(c.exit) + " | " +
         replace_all(c.says, "|", "\\|") + " | " + c.on_disk + " |\n";
  return t;
}

}  // namespace

TEST(InputTable, EveryRowHolds) {
  int n = 0;
  for (const auto& c : cases()) {
    const std::string d = scratch() + "/case" + std::to_string(n++);
    fs::create_directories(d);
    c.setup(d);
    const auto before = snapshot(d);
    const CliResult r = run_attnsim(replace_all(c.command, "{d}", d));
    EXPECT_EQ(r.code, c.exit) << c.input << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.input << ": '" << c.says << "' not in: " << r.err;
    if (c.exit != 0) {
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.input << ": " << r.err;
      EXPECT_EQ(snapshot(d), before) << c.input << ": the folder changed";
    }
  }
}

TEST(InputTable, TheDocsTableIsCurrent) {
  const std::string doc = kSrc + "/docs/data_safety.md";
  const std::string begin = "<!-- input table: generated by tests/e2e/test_input_table.cpp -->\n", end = "<!-- end of input table -->";
  std::string text = slurp(doc);
  const size_t a = text.find(begin), b = text.find(end);
  ASSERT_NE(a, std::string::npos) << doc;
  ASSERT_NE(b, std::string::npos) << doc;
  const std::string table = render_table(), committed = text.substr(a + begin.size(), b - a - begin.size());
  if (std::getenv("ATTNSIM_UPDATE_DOCS") && committed != table) {
    text.replace(a + begin.size(), b - a - begin.size(), table);
    std::ofstream(doc) << text;
    return;
  }
  EXPECT_EQ(committed, table)
      << doc << " is stale: ATTNSIM_UPDATE_DOCS=1 build/e2e_tests --gtest_filter=InputTable.TheDocsTableIsCurrent";
}
