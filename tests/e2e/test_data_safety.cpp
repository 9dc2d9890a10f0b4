// Nothing of the user's is lost and no bad input is half-read (issue 16):
// outputs never replace inputs or what attnsim did not make, JSON with a key
// written twice or a number beyond double is refused, a folder given as a
// file is one clear error, and runs too large for the machine are refused
// before they start. Each case: exit 2, one line naming the file and field,
// and nothing of the user's changed on disk.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"

using namespace attnsim_test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kArch = "configs/arch/sanger.json", kSmall = "workloads/synthetic_small.json";

std::string write_file(const std::string& name, const std::string& text) {
  const std::string p = scratch() + "/" + name;
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p) << text;
  return p;
}

// Exit 2 and one stderr line holding every fragment.
void expect_refused(const std::string& args, std::initializer_list<std::string> fragments) {
  const CliResult r = run_attnsim(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << "missing '" << f << "' in: " << r.err;
}

std::string run_small(const std::string& extra) { return "run -q -a " + kArch + " -w " + kSmall + " --layers 1 " + extra; }

}  // namespace

TEST(DataSafety, DumpNeverDeletesWhatAttnsimDidNotMake) {
  const std::string keep = scratch() + "/keep";
  write_file("keep/notes.txt", "mine");
  fs::create_directories(keep + "/sub");
  const std::string out = scratch() + "/r.json";
  expect_refused(run_small("-o " + out + " --dump " + keep), {keep, "--dump", "neither empty nor an attnsim dump"});
  EXPECT_EQ(slurp(keep + "/notes.txt"), "mine");
  EXPECT_TRUE(fs::is_directory(keep + "/sub"));
  EXPECT_FALSE(fs::exists(out));
  const std::string file = write_file("plain.txt", "mine");
  expect_refused(run_small("-o " + out + " --dump " + file), {file, "--dump", "is a file"});
  EXPECT_EQ(slurp(file), "mine");
  // '.': the working folder (the repository, for these runs) is never emptied.
  expect_refused(run_small("-o " + out + " --dump ."), {"--dump", "working folder"});
  EXPECT_TRUE(fs::exists(kSrc + "/CMakeLists.txt"));
  // The folder holding the workload's own files.
  expect_refused(run_small("-o " + out + " --dump workloads"), {"--dump", "holds the input"});
  // An earlier dump is replaced; an empty folder is used.
  const std::string dump = scratch() + "/dump", empty = scratch() + "/empty";
  fs::create_directories(empty);
  ASSERT_EQ(run_attnsim(run_small("-o " + out + " --dump " + dump)).code, 0);
  ASSERT_EQ(run_attnsim(run_small("-o " + out + " --dump " + dump)).code, 0);
  ASSERT_EQ(run_attnsim(run_small("-o " + out + " --dump " + empty)).code, 0);
  EXPECT_TRUE(fs::exists(dump + "/meta.json"));
  EXPECT_TRUE(fs::exists(empty + "/meta.json"));
  // "DIR/" is the folder DIR.
  ASSERT_EQ(run_attnsim(run_small("-o " + out + " --dump " + dump + "/")).code, 0);
  for (const auto& e : fs::directory_iterator(scratch())) {  // no temporary or set-aside folder left
    EXPECT_EQ(e.path().filename().string().find(".partial."), std::string::npos) << e.path();
    EXPECT_EQ(e.path().filename().string().find(".old."), std::string::npos) << e.path();
  }
  // An earlier dump to which the user added a file is theirs now: not replaced.
  write_file("dump/my_notes.txt", "mine");
  expect_refused(run_small("-o " + out + " --dump " + dump), {dump, "--dump", "neither empty nor an attnsim dump"});
  EXPECT_EQ(slurp(dump + "/my_notes.txt"), "mine");
  fs::remove(dump + "/my_notes.txt");
  expect_refused(run_small("-o ''"), {"--out", "expected a path"});
  expect_refused(run_small("-o " + out + " --dump ''"), {"--dump", "expected a path"});
  // A report inside the dump folder would be deleted by the next dump.
  expect_refused(run_small("-o " + dump + "/r.json --dump " + dump), {"--out", "inside the --dump folder"});
}

TEST(DataSafety, OutputNeverOverwritesAnInputOrAForeignFile) {
  const std::string arch = scratch() + "/arch.json";
  fs::copy_file(kSrc + "/" + kArch, arch);
  const std::string before = slurp(arch);
  expect_refused("run -q -a " + arch + " -w " + kSmall + " -o " + arch, {arch, "--out", "is the input"});
  EXPECT_EQ(slurp(arch), before);
  const std::string wl = scratch() + "/w.json";
  fs::copy_file(kSrc + "/" + kSmall, wl);
  expect_refused("run -q -a " + kArch + " -w " + wl + " -o " + wl, {wl, "--out", "is the input"});
  const std::string foreign = write_file("results.json", "{\"mine\": true}");
  expect_refused(run_small("-o " + foreign), {foreign, "--out", "not an attnsim report"});
  EXPECT_EQ(slurp(foreign), "{\"mine\": true}");
  expect_refused(run_small("-o " + scratch()), {"--out", "is a folder"});
  // A report of an earlier run is replaced.
  const std::string report = scratch() + "/report.json";
  ASSERT_EQ(run_attnsim(run_small("-o " + report)).code, 0);
  ASSERT_EQ(run_attnsim(run_small("-o " + report)).code, 0);
}

TEST(DataSafety, KeysWrittenTwiceAreRefused) {
  json a = json::parse(slurp(kSrc + "/" + kArch));
  std::string text = a.dump(1);
  text.insert(text.find("\"clock_ghz\""), "\"clock_ghz\": 0.5,\n");
  const std::string arch = write_file("twice.json", text);
  expect_refused("run -q -a " + arch + " -w " + kSmall + " -o " + scratch() + "/x.json", {arch, "clock_ghz", "key written twice"});
  // Nested, in a sweep spec: the first list of rows would silently be dropped.
  const std::string spec = write_file(
      "twice_spec.json", "{\"arch\": \"" + kSrc + "/" + kArch + "\", \"workload\": \"" + kSrc + "/" + kSmall +
                             "\", \"axes\": [{\"grid\": {\"pe_array.rows\": [16], \"pe_array.rows\": [32, 64]}}]}");
  expect_refused("sweep " + spec + " -o " + scratch() + "/sw_twice", {spec, "axes[0].grid.pe_array.rows", "key written twice"});
  EXPECT_FALSE(fs::exists(scratch() + "/sw_twice"));
}

TEST(DataSafety, FoldersAndHugeNumbersAreOneClearError) {
  const std::string out = scratch() + "/x.json";
  expect_refused("run -q -a configs -w " + kSmall + " -o " + out, {"configs", "is a folder"});
  expect_refused("run -q -a " + kArch + " -w workloads -o " + out, {"workloads", "is a folder"});
  expect_refused("sweep configs -o " + scratch() + "/sw", {"configs", "is a folder"});
  expect_refused("compare configs " + kSrc + "/tests/golden/sanger__minilm_s128.json", {"configs", "is a folder"});
  std::string text = slurp(kSrc + "/" + kArch);
  const auto at = text.find("\"clock_ghz\"");
  text.replace(text.find(':', at) + 1, text.find(',', at) - text.find(':', at) - 1, " 1e999");
  const std::string big = write_file("e999.json", text);
  expect_refused("run -q -a " + big + " -w " + kSmall + " -o " + out, {big, "number out of range", "1e999"});
  EXPECT_FALSE(fs::exists(out));
}

TEST(DataSafety, LayersBeyondTheWorkloadAreAnError) {
  expect_refused("run -q -a " + kArch + " -w " + kSmall + " --layers 99 -o " + scratch() + "/x.json",
                 {kSmall, "--layers", "99 layers asked for", "only 2"});
  const std::string spec = write_file("layers_spec.json", json{{"arch", kSrc + "/" + kArch},
                                                                {"workload", kSrc + "/" + kSmall},
                                                                {"run_options", {{"layers", 3}}}}
                                                               .dump());
  expect_refused("sweep " + spec + " -o " + scratch() + "/sw_layers", {spec, "run_options.layers", "only 2"});
}

TEST(DataSafety, RunsTooLargeForTheMachineAreRefusedBeforeTheyStart) {
  const std::string huge = write_file("huge.json", json{{"name", "huge"}, {"layers", 1}, {"heads", 1024}, {"batch", 4096},
                                                         {"seq_len", 1 << 20}, {"head_dim", 64},
                                                         {"data", {{"kind", "synthetic"}}}}
                                                        .dump());
  expect_refused("run -q -a " + kArch + " -w " + huge + " -o " + scratch() + "/x.json",
                 {huge, "GiB of memory", "--allow-large"});
  const std::string tall = write_file("tall.json", json{{"name", "tall"}, {"layers", 1}, {"heads", 1}, {"seq_len", 1 << 20},
                                                        {"head_dim", 64}, {"data", {{"kind", "synthetic"}}}}
                                                       .dump());
  expect_refused("run -q -a " + kArch + " -w " + tall + " -o " + scratch() + "/x.json",
                 {tall, "seq_len^2", "h of CPU time", "--allow-large"});
  // A sweep's points are counted before they are built.
  json values = json::array();
  for (int i = 1; i <= 400; ++i) values.push_back(i);
  const std::string spec = write_file(
      "big_grid.json", json{{"arch", kSrc + "/" + kArch},
                            {"workload", kSrc + "/" + kSmall},
                            {"axes", {{{"grid", {{"pe_array.rows", values}, {"memory.dram.bandwidth_gbps", values}}}}}}}
                           .dump());
  expect_refused("sweep " + spec + " -o " + scratch() + "/sw_big", {spec, "160000 points", "--max-points"});
  EXPECT_FALSE(fs::exists(scratch() + "/sw_big"));
}

TEST(DataSafety, ASweepFolderBelongsToOneSpec) {
  auto spec = [&](const std::string& name, int rows) {
    return write_file(name, json{{"arch", kSrc + "/" + kArch},
                                 {"workload", kSrc + "/" + kSmall},
                                 {"run_options", {{"layers", 1}}},
                                 {"axes", {{{"grid", {{"pe_array.rows", {rows}}}}}}}}
                                .dump());
  };
  const std::string out = scratch() + "/sw_one";
  const std::string a = spec("spec_a.json", 16), b = spec("spec_b.json", 32);
  ASSERT_EQ(run_attnsim("sweep -q " + a + " -o " + out).code, 0);
  ASSERT_EQ(run_attnsim("sweep -q " + a + " -o " + out).code, 0);  // resumed: same spec
  const std::string summary = slurp(out + "/summary.json");
  expect_refused("sweep -q " + b + " -o " + out, {out, "another sweep spec", "spec_a.json"});
  EXPECT_EQ(slurp(out + "/summary.json"), summary);
  // A folder that is not a sweep's.
  write_file("not_sweep/notes.txt", "mine");
  expect_refused("sweep -q " + a + " -o " + scratch() + "/not_sweep", {"not_sweep", "neither empty nor a sweep"});
  EXPECT_EQ(fs::directory_iterator(scratch() + "/not_sweep")->path().filename(), "notes.txt");
}
