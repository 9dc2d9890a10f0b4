// The sweep's process pool: exit codes, signals, timeouts, stderr tails, and
// the order of grouped jobs (a functional class's first point runs alone).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "scratch_dir.h"
#include "dse/process_pool.h"

using namespace attnsim;

namespace {

std::string scratch() { return attnsim_test::scratch_dir(); }

ChildJob shell(const std::string& script, const std::string& name, double timeout_s = 0, const std::string& group = "") {
  return {{"/bin/sh", "-c", script}, scratch() + "/" + name + ".err", timeout_s, group};
}

std::map<size_t, ChildOutcome> run(const std::vector<ChildJob>& jobs, int workers, std::vector<size_t>* order = nullptr) {
  std::map<size_t, ChildOutcome> out;
  run_jobs(jobs, workers, [&](size_t i, const ChildOutcome& o) {
    out[i] = o;
    if (order) order->push_back(i);
  });
  return out;
}

}  // namespace

TEST(ProcessPool, ExitCodesSignalsAndTimeouts) {
  const auto start = std::chrono::steady_clock::now();
  const auto r = run({shell("exit 0", "ok"), shell("echo one >&2; echo two >&2; echo three >&2; exit 3", "three"),
                      shell("kill -SEGV $$", "segv"), shell("sleep 20", "slow", 0.3)},
                     4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r.at(0).ok());
  EXPECT_EQ(r.at(1).exit_code, 3);
  EXPECT_FALSE(r.at(1).ok());
  EXPECT_EQ(r.at(1).describe(0), "exit code 3");
  EXPECT_EQ(tail_lines(scratch() + "/three.err", 2), "two\nthree");
  EXPECT_EQ(r.at(2).signal, 11);
  EXPECT_NE(r.at(2).describe(0).find("killed by signal 11"), std::string::npos);
  EXPECT_TRUE(r.at(3).timed_out);
  EXPECT_EQ(r.at(3).describe(0.3), "timeout after 0.3 s (killed)");
  EXPECT_GE(r.at(3).wall_s, 0.3);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

TEST(ProcessPool, MissingExecutableIsAFailedJob) {
  const auto r = run({{{scratch() + "/no_such_program"}, scratch() + "/missing.err", 0, ""}}, 1);
  EXPECT_EQ(r.at(0).exit_code, 127);
  EXPECT_NE(tail_lines(scratch() + "/missing.err", 1).find("cannot execute"), std::string::npos);
}

TEST(ProcessPool, GroupLeaderRunsBeforeItsSiblingsWhileOthersFillSlots) {
  const std::string flag = scratch() + "/leader_done";
  std::filesystem::remove(flag);
  // Siblings fail unless the leader's file exists when they start; the
  // ungrouped job may run beside the leader and ends first.
  const std::vector<ChildJob> jobs = {shell("sleep 0.3; touch " + flag, "leader", 0, "A"),
                                      shell("test -f " + flag, "sib1", 0, "A"), shell("true", "free", 0, ""),
                                      shell("test -f " + flag, "sib2", 0, "A")};
  std::vector<size_t> order;
  const auto r = run(jobs, 4, &order);
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_TRUE(r.at(i).ok()) << i;
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], 2u);
  EXPECT_EQ(order[1], 0u);
}

TEST(ProcessPool, NeverMoreThanTheWorkers) {
  // Each job holds a slot file while it runs; a job that sees more than one
  // other slot taken fails.
  const std::string dir = scratch() + "/slots";
  std::filesystem::create_directories(dir);
  std::vector<ChildJob> jobs;
  for (int i = 0; i < 6; ++i)
    jobs.push_back(shell("touch " + dir + "/" + std::to_string(i) + "; n=$(ls " + dir + " | wc -l); sleep 0.1; rm " +
                             dir + "/" + std::to_string(i) + "; test $n -le 2",
                         "slot" + std::to_string(i)));
  const auto r = run(jobs, 2);
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_TRUE(r.at(i).ok()) << i;
}

TEST(ProcessPool, TailLines) {
  const std::string f = scratch() + "/tail.txt";
  {
    std::FILE* out = std::fopen(f.c_str(), "w");
    std::fputs("a\n\nb\nc\n", out);
    std::fclose(out);
  }
  EXPECT_EQ(tail_lines(f, 2), "b\nc");
  EXPECT_EQ(tail_lines(f, 10), "a\nb\nc");
  EXPECT_EQ(tail_lines(f, 10, 3), "...b\nc");
  EXPECT_EQ(tail_lines(scratch() + "/none.txt", 3), "");
}
