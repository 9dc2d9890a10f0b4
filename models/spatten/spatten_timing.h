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
#include "spatten/spatten_config.h"

namespace attnsim {

struct SpattenRow {
  int keys = 0;           // scores computed
  int v_rows = 0;         // V rows multiplied
  bool requantised = false;
  int64_t topk_cycles = 0;
};

// `charge_fill_drain`: whether this tile pays the pipeline's fill and drain:
// every tile (drain = per_tile) or the first active tile of each layer
// (per_layer, as SpAtten's behavioural model, simulator/src/bert.cpp, charges
// it once per layer).
UnitWork spatten_tile_timing(const std::vector<SpattenRow>& rows, int head_dim, const SpattenDatapathConfig& p,
                             bool charge_fill_drain = true);

}  // namespace attnsim
