#pragma once
// Parameters of the output-stationary systolic array (systolic_os) and of the
// small output-stationary arrays inside mask units (estimation arrays).
// Defaults are the member initialisers; the JSON names, ranges and docs are
// the tables in systolic_units.cpp.

namespace attnsim {

// How an output-stationary array drains a fold's results (systolic_timing.h):
// each PE's result leaves on its column's output bus in the cycle it is done,
// inside the fold's skew (SCALE-Sim v3), or the results shift out through the
// array rows after the fold (SCALE-Sim v2 / ISPASS 2020). JSON: "in_skew" |
// "after_fold".
enum class FoldDrain { in_skew, after_fold };
const char* fold_drain_name(FoldDrain d);

struct SystolicConfig {
  int rows = 64, cols = 64;
  FoldDrain fold_drain = FoldDrain::in_skew;
  int softmax_lanes = 64;  // probabilities per cycle
  int softmax_latency_cycles = 8;
  int divide_latency_cycles = 20;
};

// A mask unit's low-bit dense array (Sanger's predictor, the DynamiQK
// detector's estimation), output stationary.
struct EstimationArrayConfig {
  int rows = 64, cols = 64;
  FoldDrain fold_drain = FoldDrain::in_skew;
};

}  // namespace attnsim
