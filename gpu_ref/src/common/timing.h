#pragma once
// Per-step CUDA-event timing. An algorithm runs its whole pipeline (all heads)
// warmup + repeats times; each run is bracketed by begin_run()/end_run() and
// each step by start(name)/stop(). Only the repeats after the warm-up count.
// "total" is the span from the run's first to its last event (host syncs and
// descriptor set-up inside the run included).
#include <string>
#include <vector>

#include <cuda_runtime.h>

namespace gpu_ref {

struct StepSummary {
  std::string name;
  double median_ms = 0, min_ms = 0;
  int repeats = 0;
};

class StepTimer {
 public:
  explicit StepTimer(cudaStream_t stream) : stream_(stream) {}
  ~StepTimer();
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;

  void begin_run(bool counted);
  void start(const std::string& step);
  void stop();
  void end_run();  // waits for the run's last event

  // Steps in first-seen order, then "total".
  std::vector<StepSummary> summary() const;

 private:
  cudaEvent_t next_event();
  struct Mark {
    std::string step;
    cudaEvent_t begin, end;
  };
  cudaStream_t stream_;
  std::vector<cudaEvent_t> pool_;
  size_t used_ = 0;
  bool counted_ = false;
  cudaEvent_t run_begin_ = nullptr;
  std::vector<Mark> marks_;
  bool open_ = false;
  std::vector<std::string> order_;
  std::vector<std::vector<float>> samples_;  // per step in order_
  std::vector<float> totals_;
};

// Runs prepare() (untimed: e.g. poisoning the outputs) then fn() (timed),
// warmup + repeats times.
template <class Prepare, class Fn>
void timed_runs(StepTimer& timer, int warmup, int repeats, Prepare&& prepare, Fn&& fn) {
  for (int r = 0; r < warmup + repeats; ++r) {
    prepare();
    timer.begin_run(r >= warmup);
    fn();
    timer.end_run();
  }
}

}  // namespace gpu_ref
