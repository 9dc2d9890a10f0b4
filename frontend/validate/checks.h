#pragma once
// Shared pieces of `attnsim validate` (validate.cpp) and its
// algorithm-specific checks (pruning_checks.cpp: SpAtten; pattern_checks.cpp:
// the DynamiQK detector). Rules: docs/validation.md.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "validate/validate.h"

namespace attnsim::validation {

constexpr double kExactRelTolerance = 1e-4;  // fp32 path: error / max |value|

struct Array {
  std::vector<double> v;
  std::vector<int64_t> shape;
};

bool has(const std::string& dir, const std::string& name);  // DIR/NAME.npy exists
Array load(const std::string& dir, const std::string& name);  // InputError when missing or unreadable
std::string shape_str(const std::vector<int64_t>& s);
void expect_shape(const Array& a, const std::vector<int64_t>& want, const std::string& dir, const std::string& name);
std::string fmt(double x);

// Running maximum errors of one tensor.
struct ErrorAccumulator {
  double max_abs = 0, max_ref = 0;
  int64_t n = 0;
  void add(double sim, double gpu) {
    max_abs = std::max(max_abs, std::abs(sim - gpu));
    max_ref = std::max(max_ref, std::abs(gpu));
    ++n;
  }
  TensorCheck check(const std::string& name, const std::string& shape) const;
};

// What the run being validated is, for the algorithm-specific checks.
struct RunShape {
  std::string sim_dir, gpu_dir;
  nlohmann::json params;
  int64_t layers = 0, groups = 0, batch = 1, heads = 1, seq = 0, dim = 0;
  bool exact_path = true;
  double prob_bound = 0, output_bound = 0;  // fixed-point bounds (0 on the exact path)
  std::vector<int64_t> sim_row_nnz, gpu_row_nnz;  // kept entries per [layer, group, row] of each side's mask
};

// SpAtten: kept token and head sets per layer (flips only at near-ties of the
// importance), importance, requantised rows. Rows that cannot be compared
// (a batch element whose kept sets differed at an earlier layer, a row whose
// requantisation differs) get row_ok = 0.
void check_pruning(const RunShape& run, Validation& out, std::vector<char>& row_ok);

// DynamiQK detector: per head the chosen plan (kinds, sizes, indices, layouts;
// choices and indices may differ only at near-ties), the estimates (column,
// diagonal and pooled block scores). Rows of heads whose plans differ get row_ok = 0.
void check_patterns(const RunShape& run, Validation& out, std::vector<char>& row_ok);

}  // namespace attnsim::validation
