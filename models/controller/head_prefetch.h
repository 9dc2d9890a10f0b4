#pragma once
// The functional work of the heads ahead of the one being timed — reading or
// generating their Q/K/V, the mask unit's per-head analysis, the observers'
// per-head references — on a pool of threads, handed out in head order. Each
// head's work is a pure function of its inputs, so what the timing sees (and
// the report) does not depend on the number of threads; the SystemC timing
// itself stays on one thread.
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <vector>

#include "kernels/attention.h"
#include "workload/workload.h"

namespace attnsim {

struct PreparedHead {
  HeadTensors tensors;
  HeadOperands operands;                               // K and V in the PE array's number format
  std::shared_ptr<const void> mask_unit;               // UnitModule::prepare_head
  std::vector<std::shared_ptr<const void>> observers;  // RunObserver::prepare_head, in observer order
};

class HeadPrefetch {
 public:
  using Prepare = std::function<PreparedHead(int index)>;
  // Heads 0 .. count-1; threads <= 1: each head is prepared when asked for,
  // on the caller's thread; else up to `threads` heads are in flight.
  HeadPrefetch(int count, int threads, Prepare prepare);
  ~HeadPrefetch();
  HeadPrefetch(const HeadPrefetch&) = delete;
  HeadPrefetch& operator=(const HeadPrefetch&) = delete;
  // The next head in order; rethrows what its preparation threw.
  PreparedHead next();

 private:
  void fill();
  int count_, threads_, issued_ = 0;
  Prepare prepare_;
  std::deque<std::future<PreparedHead>> in_flight_;
};

// Threads the machine lets this process use (its CPU affinity), at least 1.
int available_threads();

}  // namespace attnsim
