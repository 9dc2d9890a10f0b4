#pragma once
// Cycle-accurate reference of SpAtten's top-k engine (kernels/topk.h): a
// clocked, register-level quick-select datapath of parallelism P, after the
// public SpinalHDL (`QuickSelect.scala`, `ZeroEliminator.scala`):
//  * two partition FIFOs (rows of P lanes in a RAM with one write and one
//    read port, plus a tail register that packs partial rows), FIFO 0 for the
//    elements below the pivot, FIFO 1 for those above;
//  * a pivot register, loaded from the candidates' FIFO at the position the
//    pivot rule names (topk_pivot_position: random or middle);
//  * a compare stage (P comparators against the pivot, registered, with
//    larger / equal / smaller counters);
//  * two zero-eliminators (prefix sum of the keep flags, then a shift
//    network), registered, whose outputs the FIFOs' tails take;
//  * the emit pass: the input score buffer read P lanes a cycle, compared
//    with the k-th value, the ties kept by a prefix sum over the "equal"
//    flags plus a running tie counter, zero-eliminated into the index stream.
// It exists to prove topk_quickselect()'s indices and cycles exact;
// docs/fidelity.md describes the schedule.
#include <memory>
#include <systemc>
#include <vector>

#include "common/clock_driver.h"
#include "kernels/topk.h"

namespace attnsim {

class TopKEngineCycle : public sc_core::sc_module {
 public:
  TopKEngineCycle(sc_core::sc_module_name name, int parallelism, double clock_ghz,
                  TopKPivot pivot = TopKPivot::random);
  ~TopKEngineCycle() override;

  // Changes P and the pivot rule between selections (tests sweep many
  // through one module).
  void reconfigure(int parallelism, TopKPivot pivot = TopKPivot::random);
  int parallelism() const { return parallelism_; }

  // The k largest values' indices (ties to the lower index), ascending, with
  // the rounds and cycles counted on the clock. Call from an SC_THREAD:
  // simulated time passes. The engine's clock starts once the producer has
  // streamed the values into its input buffer and FIFO 0.
  TopK select(const std::vector<double>& values, int k);
  Cycles clocked_cycles() const { return clock_.clocked_cycles(); }

  struct Datapath;  // registers and control, in the .cpp

 private:
  int parallelism_;
  TopKPivot pivot_;
  ClockDriver clock_;
  std::unique_ptr<Datapath> dp_;
};

}  // namespace attnsim
