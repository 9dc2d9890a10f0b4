#pragma once
// Latency of SpAtten's datapath on a tile (own model on SpAtten HPCA'21 §IV
// and the behavioural cycle model simulator/src/bert.cpp in the public
// code): per query row, the QK module (qk_multipliers MACs per cycle; twice
// for a row recomputed with the LSBs), the softmax lanes (keys per cycle),
// the AV module (av_multipliers) and the top-k engine for local V pruning
// work as a pipeline, so a row costs its slowest stage; the tile adds one
// fill-and-drain latency.
#include <vector>

#include "common/jobs.h"

namespace attnsim {

struct SpattenTimingParams {
  int head_dim = 64, qk_multipliers = 512, av_multipliers = 512, softmax_lanes = 8, pipeline_latency = 104;
  // Whether this tile pays the pipeline's fill and drain: every tile
  // (drain = per_tile) or the first active tile of each layer (per_layer, as
  // SpAtten's behavioural model, simulator/src/bert.cpp, charges it once per
  // layer).
  bool charge_fill_drain = true;
};

struct SpattenRow {
  int keys = 0;           // scores computed
  int v_rows = 0;         // V rows multiplied
  bool requantised = false;
  int64_t topk_cycles = 0;
};

UnitWork spatten_tile_timing(const std::vector<SpattenRow>& rows, const SpattenTimingParams& p);

}  // namespace attnsim
