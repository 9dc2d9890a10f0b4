#pragma once
// The jobs the controller sends to the units: one query tile of one head.
#include <cstdint>
#include <map>
#include <string>

#include "common/timing.h"
#include "kernels/attention.h"
#include "kernels/pack_split.h"
#include "kernels/sanger_predict.h"
#include "report/run_stats.h"

namespace attnsim {

struct MaskJob {
  // in
  const HeadQuant* quant = nullptr;
  int row0 = 0, rows = 0;
  PredictorParams params;
  // out
  Prediction prediction;
  UnitWork work;
};

struct EncodeJob {
  const CsrMask* mask = nullptr;
  PackSplitSchedule schedule;
  UnitWork work;
};

struct ComputeJob {
  // in
  const MatF* q_tile = nullptr;
  const HeadOperands* kv = nullptr;
  const CsrMask* mask = nullptr;
  const PackSplitSchedule* schedule = nullptr;  // score_stationary only
  AttentionNumerics numerics;
  bool causal = false;
  int row0 = 0;
  // out
  MaskedAttention result;
  UnitWork work;
  int64_t score_buffer_bytes = 0;  // what the tile keeps in the score buffer
};

}  // namespace attnsim
