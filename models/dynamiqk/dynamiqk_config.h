#pragma once
// Parameters of the DynamiQK mask units (docs/dynamiqk.md): the online
// pattern detector and the static pattern unit. Defaults are the member
// initialisers; JSON names, ranges and docs: dynamiqk_units.cpp.
#include <map>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "kernels/pattern_detect.h"
#include "kernels/pattern_static.h"
#include "systolic/systolic_config.h"

namespace attnsim {

struct PatternDetectorConfig {
  DetectorParams detector;               // the functional detector (kernels/pattern_detect.h)
  std::string pattern_file;              // per-head choices (a report, or {"heads": [...]}), resolved path
  // The pattern file's choices by (layer, head index), read with the arch:
  // the unit itself reads no file.
  std::map<std::pair<int, int>, nlohmann::json> fixed_heads;
  EstimationArrayConfig array{32, 32};   // the estimation QKᵀ array
  int softmax_lanes = 32;                // probabilities per cycle
  int softmax_latency_cycles = 8;
  int topk_parallelism = 16;             // quick-select comparators (SpAtten's P)
  int index_lanes = 16;                  // indices merged per cycle while building the layout
  int emit_lanes = 64;                   // mask entries written per cycle per tile
};

struct StaticPatternConfig {
  StaticPatternParams pattern;  // kernels/pattern_static.h
  int emit_lanes = 64;          // mask entries written per cycle per tile
};

}  // namespace attnsim
