#pragma once
// Cycle-accurate reference of the dense baseline (systolic_timing.h): a
// clocked, register-level R x C output-stationary systolic array with skewed
// operand injection (row i of A enters i cycles late, column j of B j cycles
// late), each fold draining its R rows of results, a clocked softmax unit
// (`softmax_lanes` scores per cycle through a pipeline of
// `softmax_latency_cycles`) and the normalise step (the same lanes as
// pipelined dividers of `divide_latency_cycles`). It exists to prove the fast
// SystolicArray's cycle counts and values exact; small sizes only.
// docs/fidelity.md describes the dataflow.
#include <memory>
#include <string>
#include <vector>

#include "common/clock_driver.h"
#include "common/compute_unit.h"
#include "systolic/systolic_config.h"

namespace attnsim {

class SystolicArrayCycle : public JobUnit<ComputeJob> {
 public:
  // Same signature as SystolicArray.
  SystolicArrayCycle(sc_core::sc_module_name name, const SystolicConfig& config, double clock_ghz);
  ~SystolicArrayCycle() override;
  std::optional<int64_t> pe_count() const override { return static_cast<int64_t>(config_.rows) * config_.cols; }

  // Changes the array's shape and latencies between jobs (one elaboration per
  // process: tests sweep many shapes through one module).
  void reconfigure(const SystolicConfig& config);

  // A dense GEMM A (M x K) times B (K x N) on the array alone, fold by fold
  // (operands padded to the full array). Call from an SC_THREAD.
  struct GemmResult {
    MatD c;
    Cycles cycles = 0;
    int64_t folds = 0, macs = 0;
  };
  GemmResult gemm(const MatD& a, const MatD& b);

  struct PhaseSpan {
    std::string phase;  // qk_fold, qk_drain, softmax, pv_fold, pv_drain, normalise, fold, drain
    Cycles begin = 0, cycles = 0;
  };
  const std::vector<PhaseSpan>& last_trace() const { return trace_; }
  Cycles clocked_cycles() const { return clock_.clocked_cycles(); }

  struct Datapath;  // registers and controller, in the .cpp

 protected:
  void run(ComputeJob& job) override;

 private:
  void execute();  // runs the prepared program on the clock; from the caller's thread

  SystolicConfig config_;
  ClockDriver clock_;
  std::unique_ptr<Datapath> dp_;
  std::vector<PhaseSpan> trace_;
};

}  // namespace attnsim
