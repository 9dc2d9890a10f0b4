#pragma once
// The summary of a sweep (OUT/summary.json and summary.csv; docs/dse.md):
// one entry per point with its parameters, status and main metrics, and the
// Pareto front of the objectives. The same function builds it from a local run
// and from merged shards, so the two are equal.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dse/sweep_spec.h"

namespace attnsim {

// Where a point's report lives, relative to the sweep's output folder.
inline std::string point_report_path(const std::string& hash) { return "points/" + hash + ".json"; }

// The per-point entry: {index, hash, status ("ok" | "failed"), params,
// workload, metrics, objectives, report, error, host}. `report` is null for a
// failed point; `host` holds what varies between identical runs (wall time,
// functional-cache hits).
nlohmann::json point_entry(const SweepSpec& spec, const SweepPoint& point, const nlohmann::json* report,
                           const std::string& error, const std::vector<SweepObjective>& objectives);

struct SummaryParts {
  nlohmann::json spec;                     // the spec as written
  std::vector<std::string> parameters;     // swept paths: CSV columns
  std::vector<SweepObjective> objectives;  // as asked for
  std::vector<nlohmann::json> points;      // entries, ordered by index
};

// Counts, the objectives used (those every successful report has; the others
// are listed with used=false and a warning) and the Pareto front, computed per
// workload over the successful points. No "host" section: the caller adds it.
nlohmann::json make_summary(const SummaryParts& parts, std::vector<std::string>* warnings);

// One row per point (columns in docs/dse.md).
std::string summary_csv(const nlohmann::json& summary);

// The Pareto front as a text table (point, workload, parameters, objectives).
std::string pareto_table(const nlohmann::json& summary);

// "summary.shard-I-of-N.json".
std::string shard_summary_name(int index, int count);

// Joins the shard summaries found in `dirs` into the parts of the full
// summary; checks that they come from one spec and that every shard is there
// exactly once (InputError otherwise). `files` gets the shard files read,
// `point_dirs` the directory each point's report is in.
SummaryParts merge_shards(const std::vector<std::string>& dirs, std::vector<std::string>* files,
                          std::vector<std::string>* point_dirs);

}  // namespace attnsim
