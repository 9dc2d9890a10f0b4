#pragma once
// A sweep: a base architecture, workloads, and axes of arch parameters
// (addressed by dotted JSON path, as `attnsim run --set`), expanded into
// points. Loading validates everything before anything runs: each axis value
// and each point's whole arch is applied to the base arch and checked by
// ArchConfig::from_json; errors name the spec file and the JSON path in it.
// Format: docs/dse.md.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "workload/workload.h"

namespace attnsim {

// Arch overrides, applied in order: (dotted path, value).
using ParamSet = std::vector<std::pair<std::string, nlohmann::json>>;

struct SweepObjective {
  std::string metric;  // dotted path into a report, e.g. total.cycles
  bool maximise = false;
};

// Default Pareto objectives: cycles, energy, area, all minimised.
std::vector<SweepObjective> default_objectives();

struct SweepWorkload {
  std::string file;          // resolved against the spec's folder
  WorkloadSpec spec;         // with run_options.layers applied
  std::string content_hash;  // of the workload file and its tensor files
};

struct SweepRunOptions {
  int accuracy_rows = 0;  // attnsim run --accuracy-rows (0: all rows)
  int layers = 0;         // attnsim run --layers (0: all layers)
};

struct SweepPoint {
  int index = 0;
  size_t workload = 0;           // into SweepSpec::workloads
  ParamSet params;               // the swept parameters of this point
  nlohmann::json arch;           // effective arch JSON: base + set + params
  std::string hash;              // content hash of its inputs: OUT/points/<hash>.json
  std::string functional_class;  // points sharing it reuse masks and accuracy ("" : never reused)
};

// A search space's parameter (attnsim search, docs/search.md): "int" [lo, hi]
// with step or log scale, "float" [lo, hi] (log scale optional), or "choices".
struct SpaceRange {
  std::string path;
  std::string kind;  // int | float | choices
  double lo = 0, hi = 0;
  int64_t step = 1;
  bool log = false;
  std::vector<nlohmann::json> choices;
};

// A constraint of a search: lo <= metric <= hi (either side optional).
struct SearchConstraint {
  std::string metric;  // report path or derived column (known_metric)
  std::optional<double> min, max;
};

// The search engine's settings (validated here, used by scripts/search/search.py).
struct SearchSettings {
  std::string sampler = "nsga2";  // nsga2 | tpe | random
  int64_t seed = 0;
  int64_t trials = 100;  // total over all workers
  int64_t population = 50;  // NSGA-II population (Optuna's default)
};

struct SweepSpec {
  std::string file;
  nlohmann::json json;          // the spec as written
  std::string arch_file;        // resolved against the spec's folder
  std::vector<SweepWorkload> workloads;
  ParamSet set;                 // fixed overrides, applied before the axes
  std::vector<std::string> parameters;  // swept paths in order of first appearance (summary columns)
  std::vector<SweepObjective> objectives;
  double timeout_s = 0;         // per point; 0: none
  SweepRunOptions run_options;
  std::vector<SweepPoint> points;  // workload-major, then the axes' product (first axis slowest)

  // A search space file (it has "space"): the ranges, constraints and engine
  // settings; `points` is then the base point only. Empty for a sweep.
  std::vector<SpaceRange> space;
  std::vector<SearchConstraint> constraints;
  SearchSettings search;
  bool is_search() const { return !space.empty(); }
  nlohmann::json base_arch;  // the arch file's JSON, before `set`

  // Reads, expands and validates (InputError naming the file and JSON path).
  // More than max_points points is an error, found before they are built.
  static constexpr int64_t kDefaultMaxPoints = 100000;
  static SweepSpec load(const std::string& file, int64_t max_points = kDefaultMaxPoints);

  // A point of the first workload with the given parameters (a search's
  // trial), validated against the arch as axes are: InputError naming `where`
  // when the arch rejects it.
  SweepPoint make_point(const ParamSet& params, int index, const std::string& where) const;

  // The arguments of `attnsim run` for a point (after the executable's name).
  std::vector<std::string> run_args(const SweepPoint& point, const std::string& report_file,
                                    const std::string& functional_cache_dir) const;
};

// "p=v, q=w" for messages and tables.
std::string describe(const ParamSet& params);

}  // namespace attnsim
