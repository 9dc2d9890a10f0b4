#pragma once
// `attnsim validate SIM_DIR GPU_DIR`: the simulator's dump against the GPU
// reference's outputs for the same inputs, tensor by tensor (rules:
// docs/validation.md).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnsim {

struct TensorCheck {
  std::string name, shape;
  int64_t compared = 0;       // values compared
  double max_abs_error = 0;
  double max_rel_error = 0;   // max abs error / max |GPU value|
  std::string tolerance;      // e.g. "rel 1e-4" or "abs 0.031 (fixed-point bound)"
  std::string mask;           // mask agreement, for the mask row
  bool pass = true;
};

struct Validation {
  std::string algorithm;
  bool exact_path = true;  // fp32 formats and exact exp: tight tolerances
  std::vector<TensorCheck> checks;
  int64_t mask_entries = 0, mask_differences = 0, near_threshold = 0, rows_excluded = 0;
  nlohmann::json details = nlohmann::json::object();  // algorithm-specific counts (pruning, patterns)
  std::vector<std::string> notes;                      // one line each, printed under the table
  bool pass() const;
  nlohmann::json to_json() const;
  std::string table() const;
};

// Throws InputError for unreadable or inconsistent directories (different
// workloads or algorithms, missing or mis-shaped tensors).
Validation validate_dirs(const std::string& sim_dir, const std::string& gpu_dir);

}  // namespace attnsim
