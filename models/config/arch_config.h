#pragma once
// The accelerator description: which units, with which parameters. Every
// parameter has a default, a unit in its name and a range check.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "kernels/number_format.h"
#include "energy/tech_table.h"
#include "kernels/pattern_detect.h"  // DynamiQK pattern_detector parameters
#include "kernels/pattern_static.h"  // DynamiQK static_pattern parameters
#include "kernels/softmax.h"
#include "kernels/spatten.h"

namespace attnsim {

// How an output-stationary array drains a fold's results (systolic_timing.h):
// each PE's result leaves on its column's output bus in the cycle it is done,
// inside the fold's skew (SCALE-Sim v3), or the results shift out through the
// array rows after the fold (SCALE-Sim v2 / ISPASS 2020). JSON: "in_skew" |
// "after_fold".
enum class FoldDrain { in_skew, after_fold };
const char* fold_drain_name(FoldDrain d);

// When the score-stationary array's SpMM sweep may start (sanger_timing.h):
// each PE as soon as its own score is through the exp unit, the K and V
// wavefronts skewed across the array once per pass (wavefront: pe_row.scala
// drives each PE by its own control inputs and keeps the exp result apart
// from the accumulator), or after the whole array finished SDDMM (barrier).
// JSON: "wavefront" | "barrier".
enum class SweepSync { wavefront, barrier };
const char* sweep_sync_name(SweepSync s);

// Where the score-stationary array's exp unit gets each query row's maximum
// (exp(s - m) needs m before any of the row's passes runs its exp):
// predictor (the default behind a sanger_predictor: the largest low-bit
// predicted score the row keeps; no extra array work, as in Sanger's RTL and
// cost model, which have no maximum pass; a real score above it gives exp > 1,
// which saturates where prob_format ends: MaskedAttention::exp_saturated,
// not yet in the report) or pass
// (every pass first runs an SDDMM sweep for the exact maxima; the default
// without a predictor). JSON: "predictor" | "pass".
enum class RowMaxSource { predictor, pass };

struct DramConfig {
  int channels = 8;
  double bandwidth_gbps = 128;  // aggregate, GB/s
  double latency_ns = 100;
  int interleave_bytes = 64;    // address interleaving granularity across channels
};

struct MemoryConfig {
  DramConfig dram;
  int q_kib = 64, k_kib = 64, v_kib = 64, score_kib = 32, output_kib = 32;
  bool double_buffer = true;
  std::map<std::string, int> buffer_kib() const {
    return {{"q", q_kib}, {"k", k_kib}, {"v", v_kib}, {"score", score_kib}, {"output", output_kib}};
  }
};

struct MaskUnitConfig {
  std::string kind = "none";  // none | sanger_predictor | pattern_detector | static_pattern
  int bits = 4;
  double threshold = 2e-3;
  bool keep_row_max = true;
  // sanger_predictor, as Sanger's public code (kernels/sanger_predict.h):
  // Q and K rows normalised before quantising ("inner_product") or raw
  // ("none"), and one absmax per layer ("layer") or per head ("head").
  bool normalize_qk = true;
  bool quant_scope_layer = true;
  int array_rows = 64, array_cols = 64;  // the low-bit dense array (pattern_detector: its estimation array)
  FoldDrain array_fold_drain = FoldDrain::in_skew;  // that array's drain (output stationary)
  int softmax_lanes = 64;                // probabilities per cycle
  int softmax_latency_cycles = 8;
  // --- DynamiQK mask units (docs/dynamiqk.md) ---
  DetectorParams detector;            // pattern_detector: the functional detector
  std::string pattern_file;           // pattern_detector: per-head choices (a report, or {"heads": [...]})
  StaticPatternParams static_pattern; // static_pattern
  int topk_parallelism = 16;          // pattern_detector: quick-select comparators (SpAtten's P)
  TopKPivot topk_pivot = TopKPivot::random;  // spatten_pruner: the quick-select pivot rule (kernels/topk.h)
  int index_lanes = 16;               // pattern_detector: indices merged per cycle while building the layout
  int emit_lanes = 64;                // both: mask entries written per cycle per tile
  // --- end DynamiQK ---
  // --- SpAtten cascade pruning (spatten_pruner; docs/spatten.md) ---
  KeepSchedule token_keep{0.15, 0.5, {}};  // no token pruning in the first 15 % of layers
  KeepSchedule head_keep{0.30, 0.75, {}};  // no head pruning in the first 30 %
};

struct EncoderConfig {
  std::string kind = "none";  // none | pack_split
  int segment_width = 64;
  int segments_per_cycle = 1;
};

struct PeArrayConfig {
  std::string kind = "systolic_os";  // score_stationary | systolic_os | spatten_datapath
  int rows = 64;
  int pes_per_row = 16;  // score_stationary
  int cols = 64;         // systolic_os
  FoldDrain fold_drain = FoldDrain::in_skew;  // systolic_os
  NumberFormat number_format;
  NumberFormat prob_format;
  ExpUnit exp;
  int clear_cycles = 1, switch_cycles = 1, exp_latency_cycles = 2, io_latency_cycles = 2;
  int divide_latency_cycles = 20;
  SweepSync sweep_sync = SweepSync::wavefront;  // score_stationary
  RowMaxSource row_max = RowMaxSource::pass;     // score_stationary (default: predictor behind a sanger_predictor)
  int softmax_lanes = 64;  // systolic_os: softmax unit throughput; spatten_datapath: keys per cycle
  int softmax_latency_cycles = 8;
  // spatten_datapath (SpAtten §IV): broadcast-reduce multiplier arrays,
  // progressive quantisation, local V pruning (docs/spatten.md)
  int qk_multipliers = 512, av_multipliers = 512;
  int msb_bits = 8;                   // bits fetched first
  double requant_threshold = 0.1;     // τ
  double v_keep = 1.0;                // local V pruning: fraction of each row's V rows used
  int topk_parallelism = 16;
  TopKPivot topk_pivot = TopKPivot::random;  // local V pruning's quick-select pivot rule
  int pipeline_latency_cycles = 104;  // fill + drain: 11 + (7+21+23+29+7+1) + 5 (bert.cpp)
  // spatten_datapath: the fill and drain once per layer (SpAtten's
  // behavioural model, bert.cpp) or once per query tile. JSON drain:
  // "per_layer" | "per_tile".
  bool drain_per_layer = true;
};

struct TilingConfig {
  int query_rows = 64;
  // systolic_os: grow the query tile to the next multiple of the array's rows,
  // so an array taller than the tile is filled (own choice; false keeps
  // query_rows as given and leaves the extra rows idle).
  bool fill_array = true;
};

struct ArchConfig {
  std::string name, description;
  double clock_ghz = 1.0;
  std::string fidelity = "fast";
  MaskUnitConfig mask_unit;
  EncoderConfig encoder;
  PeArrayConfig pe_array;
  MemoryConfig memory;
  TilingConfig tiling;
  // The technology table pricing energy and area: a path as written in the
  // arch JSON (relative: next to the arch file, else in the repository), and
  // the table loaded from it.
  std::string tech = "configs/tech/45nm.json";
  TechTable tech_table;

  static ArchConfig load(const std::string& file);
  static ArchConfig from_json(const nlohmann::json& j, const std::string& file);
  nlohmann::json to_json() const;  // with every default filled in
  // Query rows per tile: the configured tile, capped by the sequence and by
  // what one slot of the Q buffer holds.
  int query_tile_rows(int seq_len, int head_dim) const;
};

// Sets the arch parameter at a dotted JSON path (pe_array.rows) in an arch
// JSON (attnsim run --set, sweep axes); ArchConfig::from_json then validates
// it. A path through a non-object is an InputError naming `file`.
void apply_arch_override(nlohmann::json& arch, const std::string& path, const nlohmann::json& value,
                         const std::string& file);
// "PATH=VALUE" with VALUE parsed as JSON, else taken as a string.
void apply_arch_override(nlohmann::json& arch, const std::string& assignment, const std::string& file);

}  // namespace attnsim
