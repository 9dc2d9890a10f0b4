#include "common/clock_driver.h"

#include <stdexcept>

namespace attnsim {

ClockDriver::ClockDriver(sc_core::sc_module_name name, const sc_core::sc_time& period)
    : sc_module(name), period_(period), clk_("clk", period) {
  SC_METHOD(tick);  // runs once at start-up, then sleeps until a run starts
}

void ClockDriver::tick() {
  using namespace sc_core;
  if (!active_) {
    next_trigger(start_ev_);
    return;
  }
  if (sc_time_stamp() > start_time_) {  // each rising edge after the start ends one cycle
    ++clocked_;
    if (!step_()) {
      active_ = false;
      done_ev_.notify();
      next_trigger(start_ev_);
      return;
    }
  }
  next_trigger(clk_.posedge_event());
}

Cycles ClockDriver::run(std::function<bool()> step) {
  using namespace sc_core;
  if (active_) throw std::logic_error(std::string(name()) + ": one run at a time");
  step_ = std::move(step);
  const auto p = period_.value();
  start_time_ = sc_time::from_value((sc_time_stamp().value() + p - 1) / p * p);
  active_ = true;
  start_ev_.notify(SC_ZERO_TIME);
  wait(done_ev_);
  return static_cast<Cycles>((sc_time_stamp() - start_time_).value() / p);
}

}  // namespace attnsim
