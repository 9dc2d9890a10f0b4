#pragma once
// Parameters of the SpAtten units (HPCA'21, docs/spatten.md): the cascade
// pruner (mask unit) and the datapath (PE array). Defaults are the member
// initialisers; JSON names, ranges and docs: spatten_units.cpp.
#include "kernels/spatten.h"
#include "kernels/topk.h"

namespace attnsim {

struct SpattenPrunerConfig {
  KeepSchedule token_keep{0.15, 0.5, {}};  // no token pruning in the first 15 % of layers
  KeepSchedule head_keep{0.30, 0.75, {}};  // no head pruning in the first 30 %
  int topk_parallelism = 16;               // quick-select comparators (SpAtten's P)
  TopKPivot topk_pivot = TopKPivot::random;
};

// Broadcast-reduce multiplier arrays, progressive quantisation, local V pruning (SpAtten §IV).
struct SpattenDatapathConfig {
  int qk_multipliers = 512, av_multipliers = 512;
  int softmax_lanes = 8;              // keys per cycle
  int msb_bits = 8;                   // bits fetched first
  double requant_threshold = 0.1;     // τ
  double v_keep = 1.0;                // local V pruning: fraction of each row's V rows used
  int topk_parallelism = 16;
  TopKPivot topk_pivot = TopKPivot::random;  // local V pruning's quick-select pivot rule
  int pipeline_latency_cycles = 104;  // fill + drain: 11 + (7+21+23+29+7+1) + 5 (bert.cpp)
  // The fill and drain once per layer (SpAtten's behavioural model, bert.cpp)
  // or once per query tile.
  bool drain_per_layer = true;
};

}  // namespace attnsim
