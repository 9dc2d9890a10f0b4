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

// A number of a report by name: a dotted report path (total.cycles) or a
// derived column: edp_pj_us (total.energy.total_pj x total.time_us) and
// sram_kib (the on-chip buffers' capacity, sum of total.sram.*.capacity_bytes
// / 1024). Null when the report lacks it.
nlohmann::json report_metric(const nlohmann::json& report, const std::string& name);

// Whether `name` is a column a report has (docs/report_schema.md's period
// fields under total., area., or a derived column): searches check their
// objectives and constraints up front with it.
bool known_metric(const std::string& name);
// The message for an unknown one, listing the usual names.
std::string unknown_metric(const std::string& name);
// The values a metric can take at all: [0, 1] for fractions, [0, inf) otherwise.
std::pair<double, double> metric_bounds(const std::string& name);

// The per-point entry: {index, hash, status ("ok" | "failed"), params,
// workload, metrics, objectives, report, error, host}. `report` is null for a
// failed point; `host` holds what varies between identical runs (wall time,
// functional-cache hits). With the spec's constraints (a search), also
// `constraints` ([{metric, min, max, value, violation}]: violation <= 0 when
// met, relative to the bound) and `feasible` (null for a failed point).
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
// workload over the successful points that are not marked "feasible": false. No "host" section: the caller adds it.
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
