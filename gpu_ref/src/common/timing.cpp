#include "common/timing.h"

#include <algorithm>
#include <stdexcept>

#include "common/error.h"

namespace gpu_ref {

StepTimer::~StepTimer() {
  for (cudaEvent_t e : pool_) cudaEventDestroy(e);
}

cudaEvent_t StepTimer::next_event() {
  if (used_ == pool_.size()) {
    cudaEvent_t e;
    CHECK_CUDA(cudaEventCreate(&e));
    pool_.push_back(e);
  }
  return pool_[used_++];
}

void StepTimer::begin_run(bool counted) {
  used_ = 0;
  marks_.clear();
  counted_ = counted;
  open_ = false;
  run_begin_ = next_event();
  CHECK_CUDA(cudaEventRecord(run_begin_, stream_));
}

void StepTimer::start(const std::string& step) {
  if (open_) throw std::logic_error("StepTimer: step '" + marks_.back().step + "' not stopped");
  Mark m{step, next_event(), next_event()};
  CHECK_CUDA(cudaEventRecord(m.begin, stream_));
  marks_.push_back(m);
  open_ = true;
}

void StepTimer::stop() {
  if (!open_) throw std::logic_error("StepTimer: stop() without start()");
  CHECK_CUDA(cudaEventRecord(marks_.back().end, stream_));
  open_ = false;
}

void StepTimer::end_run() {
  if (open_) stop();
  cudaEvent_t run_end = next_event();
  CHECK_CUDA(cudaEventRecord(run_end, stream_));
  CHECK_CUDA(cudaEventSynchronize(run_end));
  if (!counted_) return;
  // A step started several times in one run (none does today) sums.
  std::vector<float> per_step(order_.size(), 0.f);
  std::vector<bool> seen(order_.size(), false);
  for (const Mark& m : marks_) {
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, m.begin, m.end));
    size_t i = std::find(order_.begin(), order_.end(), m.step) - order_.begin();
    if (i == order_.size()) {
      order_.push_back(m.step);
      samples_.emplace_back();
      per_step.push_back(0.f);
      seen.push_back(false);
    }
    per_step[i] += ms;
    seen[i] = true;
  }
  for (size_t i = 0; i < order_.size(); ++i)
    if (seen[i]) samples_[i].push_back(per_step[i]);
  float total = 0;
  CHECK_CUDA(cudaEventElapsedTime(&total, run_begin_, run_end));
  totals_.push_back(total);
}

namespace {
StepSummary summarise(const std::string& name, std::vector<float> v) {
  StepSummary s;
  s.name = name;
  s.repeats = static_cast<int>(v.size());
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median_ms = n % 2 ? v[n / 2] : 0.5 * (static_cast<double>(v[n / 2 - 1]) + v[n / 2]);
  s.min_ms = v.front();
  return s;
}
}  // namespace

std::vector<StepSummary> StepTimer::summary() const {
  std::vector<StepSummary> out;
  for (size_t i = 0; i < order_.size(); ++i) out.push_back(summarise(order_[i], samples_[i]));
  out.push_back(summarise("total", totals_));
  return out;
}

}  // namespace gpu_ref
