// The head pool (models/controller/head_prefetch.h): heads come back in
// order whatever the thread count, no more than `threads` are in flight, and
// a head whose preparation threw rethrows when it is asked for.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "controller/head_prefetch.h"

using namespace attnsim;

namespace {
PreparedHead numbered(int n) {
  PreparedHead p;
  p.tensors.q = MatF::Constant(1, 1, static_cast<float>(n));
  return p;
}
}  // namespace

TEST(HeadPrefetch, HeadsComeBackInOrderForAnyThreadCount) {
  for (int threads : {1, 2, 5}) {
    std::atomic<int> running{0}, most{0};
    HeadPrefetch pool(12, threads, [&](int n) {
      const int now = ++running;
      for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {
      }
      // Later heads finish first: order must come from the pool, not timing.
      std::this_thread::sleep_for(std::chrono::milliseconds(12 - n));
      --running;
      return numbered(n);
    });
    for (int n = 0; n < 12; ++n) EXPECT_EQ(pool.next().tensors.q(0, 0), n) << threads << " threads";
    EXPECT_LE(most.load(), threads);
    if (threads > 1) {
      EXPECT_GT(most.load(), 1);  // the pool does overlap
    }
  }
}

TEST(HeadPrefetch, AFailedHeadRethrowsWhenItsTurnComes) {
  HeadPrefetch pool(6, 3, [](int n) {
    if (n == 3) throw std::runtime_error("head 3 failed");
    return numbered(n);
  });
  for (int n = 0; n < 3; ++n) EXPECT_EQ(pool.next().tensors.q(0, 0), n);
  EXPECT_THROW(pool.next(), std::runtime_error);
}
