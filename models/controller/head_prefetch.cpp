#include "controller/head_prefetch.h"

#include <sched.h>

#include <thread>

namespace attnsim {

HeadPrefetch::HeadPrefetch(int count, int threads, Prepare prepare)
    : count_(count), threads_(threads), prepare_(std::move(prepare)) {}

HeadPrefetch::~HeadPrefetch() {
  for (auto& f : in_flight_)
    if (f.valid()) f.wait();  // tasks read the source and units: finish before they go
}

void HeadPrefetch::fill() {
  while (issued_ < count_ && static_cast<int>(in_flight_.size()) < threads_)
    in_flight_.push_back(std::async(std::launch::async, prepare_, issued_++));
}

PreparedHead HeadPrefetch::next() {
  if (threads_ <= 1) return prepare_(issued_++);
  fill();
  std::future<PreparedHead> f = std::move(in_flight_.front());
  in_flight_.pop_front();
  PreparedHead p = f.get();
  fill();  // keep the pool busy while this head is timed
  return p;
}

int available_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace attnsim
