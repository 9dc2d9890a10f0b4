#pragma once
// Cycle-accurate reference of Sanger's score-stationary array (MICRO'21 §4.3;
// structure of pe_row.scala in the public code hatsu3/Sanger): a clocked,
// register-level model that exists to prove the loosely-timed
// ScoreStationaryArray's cycle counts (sanger_timing.h) and values
// (masked_attention) exact. Small sizes only: it updates every register of the
// array at every clock edge. docs/fidelity.md describes the dataflow.
//
// Per array row: a width-long Q shift register fed from the left (skewed one
// cycle per row), a width-wide K/V register row passing the operands down to
// the next row (skewed one cycle per column offset), and pes_per_row PEs, each
// with a column tap (the c1/c2 muxes), an accumulator, a score register, an
// exp register and a bubble delay buffer of width - pes_per_row entries on the
// SpMM partial-sum path. A controller FSM runs each pass of the pack-and-split
// schedule once for the query rows' maxima (clear, SDDMM, max drain of the
// scores into the row maximum registers), then each pass proper (clear,
// SDDMM, switch, exp, SpMM, drain of the exp partial sums), then the
// normalise stage. Phases end when the datapath says so (every PE's
// result register valid, every row's outputs captured), not by formula.
#include <memory>
#include <string>
#include <vector>

#include "common/clock_driver.h"
#include "common/compute_unit.h"
#include "sanger/sanger_config.h"

namespace attnsim {

class ScoreStationaryArrayCycle : public JobUnit<ComputeJob> {
 public:
  // Same signature as ScoreStationaryArray.
  ScoreStationaryArrayCycle(sc_core::sc_module_name name, const ScoreStationaryConfig& config, int segment_width,
                            double clock_ghz);
  ~ScoreStationaryArrayCycle() override;
  std::optional<int64_t> pe_count() const override { return static_cast<int64_t>(config_.rows) * config_.pes_per_row; }
  int pes_per_row() const override { return config_.pes_per_row; }

  // Changes the array's geometry and latencies between jobs (SystemC
  // elaborates once per process: tests sweep many shapes through one module).
  void reconfigure(const ScoreStationaryConfig& config, int segment_width);

  // The control sequence of the last job, phase by phase.
  struct PhaseSpan {
    std::string phase;  // max_clear, max_sddmm, max_drain (maximum passes); clear, sddmm, switch, exp, spmm, drain; normalise
    Cycles begin = 0, cycles = 0;
  };
  const std::vector<PhaseSpan>& last_trace() const { return trace_; }
  // Clock edges at which the array did work, over all jobs (a cross-check of
  // the counters against simulated time).
  Cycles clocked_cycles() const { return clock_.clocked_cycles(); }

  struct Datapath;  // registers and controller, in the .cpp

 protected:
  void run(ComputeJob& job) override;

 private:
  ScoreStationaryConfig config_;
  int segment_width_;
  ClockDriver clock_;
  std::unique_ptr<Datapath> dp_;
  std::vector<PhaseSpan> trace_;
};

}  // namespace attnsim
