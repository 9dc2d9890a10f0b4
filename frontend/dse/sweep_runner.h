#pragma once
// Runs a sweep (docs/dse.md): claims and locks the output folder, keeps the
// complete reports of an earlier run, runs the other points as `attnsim run`
// child processes and writes the summary; merges shard summaries. Prints
// nothing: the caller shows progress and results (cli/cmd_sweep.cpp).
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dse/sweep_spec.h"

namespace attnsim {

// A slice of a sweep: the points with index % count == index.
struct Shard {
  int index = 0, count = 1;
};

// "I/N" with 0 <= I < N (InputError naming --shard otherwise).
Shard parse_shard(const std::string& text);

// The points of `shard`, in index order.
std::vector<const SweepPoint*> shard_points(const SweepSpec& spec, const Shard& shard);

struct SweepOptions {
  std::string out;         // output folder (created; refused if another spec's or not a sweep's)
  std::string executable;  // the attnsim binary each point runs in
  int workers = 1;         // points run at once
  double timeout_s = 0;    // per point; 0: none
  bool reuse = true;       // points share masks and accuracy (--functional-cache OUT/functional)
  bool allow_large = false;  // passes --allow-large to every point
  Shard shard;
};

// Called in the calling thread while points run.
struct SweepProgress {
  std::function<void(int done, int total)> update;  // before the first point and after each
  // A point failed (before its update); `error` is what the summary records.
  std::function<void(const SweepPoint& point, const std::string& error)> failed;
};

struct SweepResult {
  nlohmann::json summary;             // as written
  std::vector<std::string> warnings;  // from make_summary
  size_t points = 0;                  // of this shard
  size_t distinct = 0;                // distinct hashes among them
  size_t run = 0;                     // run now
  int found = 0;                      // complete reports of an earlier run
  int failed = 0;
  double wall_s = 0;
  int64_t cache_hits = 0;  // functional-cache hits over the reports
  std::string written;     // OUT/summary.csv, or the shard summary's path
};

// Runs the points of options.shard that have no complete report in OUT and
// writes OUT/summary.csv and summary.json (a shard: its shard summary only).
// InputError, before anything is written, for a folder it may not use or one
// another sweep of the same shard is writing (the lock is held until it returns).
SweepResult run_sweep(const SweepSpec& spec, const SweepOptions& options, const SweepProgress& progress = {});

// Points given one by one (attnsim sweep SPEC --out OUT --point JSON): a
// search's trials. Several processes may evaluate points into one OUT at once:
// no folder lock, but one per point (OUT/.locks/<hash>), so a point asked for
// twice runs once and the second asker reads its report.

// A --point value: a JSON object {PATH: VALUE}. For a search space, every path
// must be one of its parameters and every value inside its range (InputError
// naming `where` otherwise); ordered as the space lists them.
ParamSet parse_point(const SweepSpec& spec, const nlohmann::json& point, const std::string& file,
                     const std::string& where);

// Evaluates the points in turn: a complete report in OUT is reused, otherwise
// `attnsim run` computes it (functional cache, timeout, failure log as in a
// sweep). A combination the arch rejects is a failed point (not an error).
// Returns point_entry()s, index = position, with host.reused.
std::vector<nlohmann::json> evaluate_points(const SweepSpec& spec, const std::vector<ParamSet>& points,
                                            const SweepOptions& options);

// Writes OUT/summary.csv and summary.json for a list of points evaluated
// before (`list_file`: {"points": [{"params": {...}, "error": null|TEXT,
// "trial": N}], "host": {...}}), in that order: a point is ok when it has no
// error and its report is in OUT/points.
SweepResult summarize_points(const SweepSpec& spec, const std::string& list_file, const std::string& out);

struct MergeResult {
  nlohmann::json summary;
  std::vector<std::string> warnings;
  std::vector<std::string> shard_files;  // the shard summaries read
  size_t points = 0;
  int failed = 0;
  std::string out;  // where summary.csv/json were written
};

// Joins the shard summaries in `dirs` into OUT (default: the first of them),
// copying their reports into OUT/points so that it stands alone.
MergeResult merge_sweeps(const std::vector<std::string>& dirs, const std::string& out);

}  // namespace attnsim
