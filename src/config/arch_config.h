#pragma once
// The accelerator description: which units, with which parameters. Every
// parameter has a default, a unit in its name and a range check.
#include <nlohmann/json.hpp>
#include <string>

#include "config/number_format.h"
#include "kernels/softmax.h"

namespace attnsim {

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
};

struct MaskUnitConfig {
  std::string kind = "none";  // none | sanger_predictor
  int bits = 4;
  double threshold = 2e-3;
  bool keep_row_max = true;
  int array_rows = 64, array_cols = 64;  // the low-bit dense array
  int softmax_lanes = 64;                // probabilities per cycle
  int softmax_latency_cycles = 8;
};

struct EncoderConfig {
  std::string kind = "none";  // none | pack_split
  int segment_width = 64;
  int segments_per_cycle = 1;
};

struct PeArrayConfig {
  std::string kind = "systolic_os";  // score_stationary | systolic_os
  int rows = 64;
  int pes_per_row = 16;  // score_stationary
  int cols = 64;         // systolic_os
  NumberFormat number_format;
  NumberFormat prob_format;
  ExpUnit exp;
  int clear_cycles = 1, switch_cycles = 1, exp_latency_cycles = 2, io_latency_cycles = 2;
  int divide_latency_cycles = 20;
  int softmax_lanes = 64;  // systolic_os: softmax unit throughput
  int softmax_latency_cycles = 8;
};

struct TilingConfig {
  int query_rows = 64;
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

  static ArchConfig load(const std::string& file);
  static ArchConfig from_json(const nlohmann::json& j, const std::string& file);
  nlohmann::json to_json() const;  // with every default filled in
};

}  // namespace attnsim
