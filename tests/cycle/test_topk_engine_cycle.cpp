// The clocked quick-select datapath against topk_quickselect(): the same
// indices, rounds and cycles on thousands of random score vectors (ties,
// sorted runs, constant vectors, every k from 0 to n, several P), with the
// simulated time equal to the cycles counted.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "spatten/topk_engine_cycle.h"
#include "testbench.h"

using namespace attnsim;
using namespace attnsim::cycle_test;

namespace {

constexpr double kClockGhz = 1.0;

void run_with_engine(int parallelism, const std::function<void(TopKEngineCycle&)>& body) {
  TopKEngineCycle engine("engine", parallelism, kClockGhz);
  TestThread driver("driver");
  driver.body = [&] { body(engine); };
  sc_core::sc_start();
}

std::vector<double> random_scores(Rng& rng, int n) {
  std::vector<double> v(static_cast<size_t>(n));
  switch (uniform_int(rng, 0, 6)) {
    case 0:  // distinct reals
      for (auto& x : v) x = uniform_real(rng, -1, 1);
      break;
    case 1:  // a few levels: many ties
      for (auto& x : v) x = uniform_int(rng, 0, 3);
      break;
    case 2:  // constant
      std::fill(v.begin(), v.end(), 0.25);
      break;
    case 3:  // ascending
      for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
      break;
    case 4:  // descending
      for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = n - i;
      break;
    case 5:  // mostly zeros (pruned or unseen tokens) and a few large scores
      for (auto& x : v) x = uniform_int(rng, 0, 9) == 0 ? uniform_real(rng, 0, 100) : 0.0;
      break;
    default:  // importance-like: positive, heavy-tailed, some exact repeats
      for (auto& x : v) x = uniform_int(rng, 0, 4) == 0 ? 1.0 : std::exp(uniform_real(rng, -4, 4));
      break;
  }
  return v;
}

}  // namespace

TEST(TopKEngineCycle, RandomScoreVectorsMatchTheFastModel) {
  Rng rng(20261122);
  const std::vector<int> parallelisms = {1, 2, 3, 4, 5, 8, 16, 32, 64};
  run_with_engine(16, [&](TopKEngineCycle& engine) {
    const int cases = tile_count(4000);
    int64_t cycles = 0;
    for (int c = 0; c < cases; ++c) {
      const int P = pick(rng, parallelisms);
      const int n = uniform_int(rng, 0, 3) == 0 ? uniform_int(rng, 0, 12) : uniform_int(rng, 1, 700);
      const int edge = uniform_int(rng, 0, 5);
      const int k = edge == 0 ? 0 : edge == 1 ? n : edge == 2 ? 1 : edge == 3 ? std::max(0, n - 1)
                                                                        : uniform_int(rng, 0, std::max(0, n));
      const std::vector<double> v = random_scores(rng, n);
      const TopKPivot pivot = uniform_int(rng, 0, 1) ? TopKPivot::middle : TopKPivot::random;
      engine.reconfigure(P, pivot);
      const sc_core::sc_time t0 = sc_core::sc_time_stamp();
      const TopK got = engine.select(v, k);
      const TopK want = topk_quickselect(v, k, P, pivot);
      std::ostringstream what;
      what << "case " << c << ": n " << n << " k " << k << " P " << P << " pivot " << topk_pivot_name(pivot);
      ASSERT_EQ(got.indices, want.indices) << what.str();
      ASSERT_EQ(got.rounds, want.rounds) << what.str();
      ASSERT_EQ(got.cycles, want.cycles) << what.str();
      // Simulated time: the cycles, plus at most one cycle to reach an edge.
      const double elapsed = (sc_core::sc_time_stamp() - t0).to_seconds() * kClockGhz * 1e9;
      ASSERT_GE(elapsed, static_cast<double>(got.cycles) - 1e-6) << what.str();
      ASSERT_LE(elapsed, static_cast<double>(got.cycles) + 1 + 1e-6) << what.str();
      cycles += got.cycles;
    }
    EXPECT_GT(cycles, 0);
    EXPECT_EQ(engine.clocked_cycles(), cycles);
  });
}

// Hand-worked schedules (docs/fidelity.md, "Top-k engine"), middle pivots.
TEST(TopKEngineCycle, HandWorkedSchedules) {
  run_with_engine(4, [&](TopKEngineCycle& engine) {
    engine.reconfigure(4, TopKPivot::middle);
    // {8..1}, k 4, P 4: round 1 over 8 (pivot 4, 4 above: keep them) 2 + 3;
    // round 2 over {8,7,6,5} (pivot 6: 2 above + 1 equal < 4, want 1 below)
    // 1 + 3; round 3 over {5} (pivot 5 equal: the k-th value) 1 + 3; emit 2 + 2.
    const TopK a = engine.select({8, 7, 6, 5, 4, 3, 2, 1}, 4);
    EXPECT_EQ(a.indices, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(a.rounds, 3);
    EXPECT_EQ(a.cycles, 5 + 4 + 4 + 4);
    // Ten equal scores, k 3: one round finds the k-th value (3 + 3), the emit
    // keeps the first three ties by index (3 + 2).
    const TopK b = engine.select(std::vector<double>(10, 0.5), 3);
    EXPECT_EQ(b.indices, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(b.cycles, 6 + 5);
    // k = n: no round, the emit streams every index; k = 0: the engine idles.
    EXPECT_EQ(engine.select({3, 1, 2}, 3).cycles, 1 + 2);
    EXPECT_EQ(engine.select({3, 1, 2}, 0).cycles, 0);
    // Ties split across rows: {1,2,2,2,2,0}, k 3, P 2 -> 2s at 1, 2, 3.
    engine.reconfigure(2, TopKPivot::middle);
    const TopK c = engine.select({1, 2, 2, 2, 2, 0}, 3);
    EXPECT_EQ(c.indices, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(c.cycles, topk_quickselect({1, 2, 2, 2, 2, 0}, 3, 2, TopKPivot::middle).cycles);
  });
}
