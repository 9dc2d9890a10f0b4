// The sweep runner through its API: shards, claiming and locking the output
// folder, and resuming from the complete reports of an earlier run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "scratch_dir.h"
#include "dse/sweep_runner.h"
#include "dse/sweep_summary.h"
#include "util/error.h"

using namespace attnsim;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kSrc = ATTNSIM_SOURCE_DIR;

std::string scratch() { return attnsim_test::scratch_dir(); }

std::string slurp(const std::string& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Sanger on one layer of the small synthetic workload, a rows x pes grid.
SweepSpec load_spec(const std::string& name, const std::vector<int>& rows, const std::vector<int>& pes) {
  const json spec = {{"arch", kSrc + "/configs/arch/sanger.json"},
                     {"workload", kSrc + "/workloads/synthetic_small.json"},
                     {"run_options", {{"layers", 1}}},
                     {"axes", {{{"grid", {{"pe_array.rows", rows}, {"pe_array.pes_per_row", pes}}}}}}};
  const std::string file = scratch() + "/" + name;
  std::ofstream(file) << spec.dump(2);
  return SweepSpec::load(file);
}

// Options whose points fail at once (no simulation): for the folder checks.
SweepOptions failing_options(const std::string& out) {
  SweepOptions o;
  o.out = out;
  o.executable = "/bin/false";
  return o;
}

// Expects an InputError holding every fragment.
template <class F>
void expect_refused(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    FAIL() << "not refused";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    for (const auto& s : fragments) EXPECT_NE(msg.find(s), std::string::npos) << "missing '" << s << "' in: " << msg;
  }
}

}  // namespace

TEST(SweepRunner, ShardsAreDisjointAndCoverTheGrid) {
  const SweepSpec spec = load_spec("shards.json", {16, 32, 64}, {4, 8, 16});
  ASSERT_EQ(spec.points.size(), 9u);
  for (int n = 1; n <= 10; ++n) {
    std::multiset<int> seen;
    for (int i = 0; i < n; ++i) {
      const Shard shard = parse_shard(std::to_string(i) + "/" + std::to_string(n));
      EXPECT_EQ(shard.index, i);
      EXPECT_EQ(shard.count, n);
      int last = -1;
      for (const auto* p : shard_points(spec, shard)) {
        EXPECT_EQ(p->index % n, i);
        EXPECT_GT(p->index, last);  // in index order
        last = p->index;
        seen.insert(p->index);
      }
    }
    ASSERT_EQ(seen.size(), 9u) << n << " shards";
    for (int k = 0; k < 9; ++k) EXPECT_EQ(seen.count(k), 1u) << "point " << k << " of " << n << " shards";
  }
  for (const std::string bad : {"2/2", "-1/2", "0/0", "1", "a/b", "0/2x", "0 /2", ""})
    expect_refused([&] { parse_shard(bad); }, {"--shard", "'" + bad + "'"});
}

TEST(SweepRunner, RefusesAFolderItDidNotMake) {
  const SweepSpec a = load_spec("spec_a.json", {16}, {8}), b = load_spec("spec_b.json", {32}, {8});
  // A folder holding something else: named, and left as it was.
  const std::string foreign = scratch() + "/foreign";
  fs::create_directories(foreign);
  std::ofstream(foreign + "/notes.txt") << "mine";
  expect_refused([&] { run_sweep(a, failing_options(foreign)); },
                 {foreign, "--out", "neither empty nor a sweep's output", "notes.txt"});
  ASSERT_EQ(std::distance(fs::directory_iterator(foreign), fs::directory_iterator()), 1);
  EXPECT_EQ(slurp(foreign + "/notes.txt"), "mine");

  // A file, and the folder of another spec.
  expect_refused([&] { run_sweep(a, failing_options(foreign + "/notes.txt")); }, {"notes.txt", "is a file"});
  const std::string out = scratch() + "/of_a";
  EXPECT_EQ(run_sweep(a, failing_options(out)).failed, 1);
  const std::string summary = slurp(out + "/summary.json");
  expect_refused([&] { run_sweep(b, failing_options(out)); }, {out, "another sweep spec", "spec_a.json"});
  EXPECT_EQ(slurp(out + "/summary.json"), summary);
}

TEST(SweepRunner, ASecondRunnerOnALockedFolderIsRefused) {
  const SweepSpec spec = load_spec("locked.json", {16, 32}, {8});
  const std::string out = scratch() + "/locked";
  SweepOptions first = failing_options(out);
  first.shard = {0, 2};
  int updates = 0, failures = 0;
  SweepProgress progress;
  // While the first runner holds its shard's lock: the same shard is refused,
  // the other shard of the same folder is not.
  progress.update = [&](int done, int total) {
    EXPECT_EQ(total, 1);
    if (updates++ > 0) return;
    EXPECT_EQ(done, 0);
    expect_refused([&] { run_sweep(spec, first); },
                   {out + "/.lock." + shard_summary_name(0, 2), "another attnsim sweep is writing this output folder"});
    SweepOptions other = failing_options(out);
    other.shard = {1, 2};
    EXPECT_EQ(run_sweep(spec, other).failed, 1);
  };
  progress.failed = [&](const SweepPoint& p, const std::string& error) {
    ++failures;
    EXPECT_EQ(p.index, 0);
    EXPECT_EQ(error, "exit code 1");
  };
  const SweepResult r = run_sweep(spec, first, progress);
  EXPECT_EQ(updates, 2);
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.written, out + "/" + shard_summary_name(0, 2));
  EXPECT_TRUE(fs::exists(out + "/" + shard_summary_name(1, 2)));
  // Released on return: the same shard runs again.
  EXPECT_EQ(run_sweep(spec, first).run, 1u);
}

TEST(SweepRunner, ResumeSkipsCompleteReportsAndRerunsIncompleteOnes) {
  const SweepSpec spec = load_spec("resume.json", {32, 64}, {8, 16});
  SweepOptions opt;
  opt.out = scratch() + "/resume";
  opt.executable = ATTNSIM_BIN;
  opt.workers = 2;
  const SweepResult first = run_sweep(spec, opt);
  ASSERT_EQ(first.failed, 0) << first.summary.dump(2);
  EXPECT_EQ(first.points, 4u);
  EXPECT_EQ(first.distinct, 4u);
  EXPECT_EQ(first.run, 4u);
  EXPECT_EQ(first.found, 0);
  EXPECT_EQ(first.written, opt.out + "/summary.csv");

  // Point 2's report lacks its results; point 3 left only a temporary file,
  // as a point killed with its sweep does.
  const auto report = [&](int i) { return opt.out + "/" + point_report_path(spec.points[i].hash); };
  const std::string kept = slurp(report(0));
  const auto kept_time = fs::last_write_time(report(0));
  json incomplete = json::parse(slurp(report(2)));
  incomplete.erase("total");
  std::ofstream(report(2)) << incomplete.dump(2);
  fs::rename(report(3), report(3) + ".tmp99999");
  int last_total = -1;
  SweepProgress progress;
  progress.update = [&](int, int total) { last_total = total; };
  const SweepResult again = run_sweep(spec, opt, progress);
  EXPECT_EQ(last_total, 2);
  EXPECT_EQ(again.failed, 0);
  EXPECT_EQ(again.run, 2u);
  EXPECT_EQ(again.found, 2);
  EXPECT_EQ(again.summary["host"]["points_run"], 2);
  EXPECT_EQ(again.summary["host"]["points_found"], 2);
  EXPECT_EQ(slurp(report(0)), kept);
  EXPECT_EQ(fs::last_write_time(report(0)), kept_time);
  for (int i : {2, 3}) EXPECT_TRUE(json::parse(slurp(report(i))).contains("total")) << i;
  // The same results as the first run.
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(again.summary["points"][i]["metrics"], first.summary["points"][i]["metrics"]) << i;
  EXPECT_EQ(again.summary["pareto"], first.summary["pareto"]);
}
