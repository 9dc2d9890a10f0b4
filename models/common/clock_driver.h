#pragma once
// The clock of a cycle-accurate reference model: run(step) starts at the first
// clock boundary at or after the current time, calls step() once at every
// rising edge after that (each call is one cycle of the datapath) until it
// returns false, and returns the cycles that simulated time says passed. The
// caller's SC_THREAD waits meanwhile, so the job's time passes on this clock.
#include <functional>
#include <systemc>

#include "common/timing.h"

namespace attnsim {

class ClockDriver : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(ClockDriver);
  ClockDriver(sc_core::sc_module_name name, const sc_core::sc_time& period);

  Cycles run(std::function<bool()> step);  // call from an SC_THREAD
  bool active() const { return active_; }
  // Edges at which a datapath worked, over all runs.
  Cycles clocked_cycles() const { return clocked_; }

 private:
  void tick();

  sc_core::sc_time period_;
  sc_core::sc_clock clk_;
  sc_core::sc_event start_ev_, done_ev_;
  std::function<bool()> step_;
  bool active_ = false;
  sc_core::sc_time start_time_;
  Cycles clocked_ = 0;
};

}  // namespace attnsim
