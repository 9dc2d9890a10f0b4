#pragma once
// Parameters of the Sanger units (MICRO'21): the predictor (mask unit), the
// pack-and-split encoder and the score-stationary array. Defaults are the
// member initialisers; JSON names, ranges and docs: sanger_units.cpp.
#include "systolic/systolic_config.h"

namespace attnsim {

// When the score-stationary array's SpMM sweep may start (sanger_timing.h):
// each PE as soon as its own score is through the exp unit, the K and V
// wavefronts skewed across the array once per pass (wavefront: pe_row.scala
// drives each PE by its own control inputs and keeps the exp result apart
// from the accumulator), or after the whole array finished SDDMM (barrier).
enum class SweepSync { wavefront, barrier };
const char* sweep_sync_name(SweepSync s);

// Where the score-stationary array's exp unit gets each query row's maximum
// (exp(s - m) needs m before any of the row's passes runs its exp):
// predictor (the default behind a mask unit that predicts it, Sanger's
// predictor: the largest low-bit predicted score the row keeps; no extra
// array work, as in Sanger's RTL and cost model, which have no maximum pass; a
// real score above it gives exp > 1, which saturates where prob_format ends)
// or pass (every pass first runs an SDDMM sweep for the exact maxima; the
// default otherwise).
enum class RowMaxSource { predictor, pass };

struct SangerPredictorConfig {
  int bits = 4;
  double threshold = 2e-3;
  bool keep_row_max = true;
  // As Sanger's public code (kernels/sanger_predict.h): Q and K rows
  // normalised before quantising, and one absmax per layer (else per head).
  bool normalize_qk = true;
  bool quant_scope_layer = true;
  EstimationArrayConfig array;  // the low-bit QKᵀ array
  int softmax_lanes = 64;       // probabilities per cycle
  int softmax_latency_cycles = 8;
};

struct PackSplitConfig {
  int segment_width = 64;
  int segments_per_cycle = 1;
};

struct ScoreStationaryConfig {
  int rows = 64;
  int pes_per_row = 16;
  int clear_cycles = 1, switch_cycles = 1, exp_latency_cycles = 2, io_latency_cycles = 2;
  int divide_latency_cycles = 20;
  SweepSync sweep_sync = SweepSync::wavefront;
  RowMaxSource row_max = RowMaxSource::pass;  // predictor behind a mask unit that predicts row maxima
};

}  // namespace attnsim
