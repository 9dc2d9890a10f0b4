#pragma once
// The JSON report of one run (schema: docs/report_schema.md).
#include <nlohmann/json.hpp>

#include "config/arch_config.h"
#include "common/run_stats.h"
#include "workload/workload.h"

namespace attnsim {

struct HostCost {
  double wall_time_s = 0;
  double peak_rss_mib = 0;
  int64_t functional_cache_hits = 0;  // heads whose values an earlier run computed
  int64_t structured_tiles = 0;       // tiles timed from their mask's structure (--mask-form)
  int threads = 1;                    // threads preparing heads (--threads)
};

nlohmann::json make_report(const ArchConfig& arch, const WorkloadSpec& workload, const RunStats& stats,
                           const HostCost& host);

// Fields that vary between identical runs (host timings); golden comparisons
// drop them.
nlohmann::json without_host_fields(nlohmann::json report);

// Writes JSON to `path` atomically (temporary file, then rename).
void write_json_atomic(const std::string& path, const nlohmann::json& j);
// An existing file that attnsim run wrote (a JSON report), so -o may replace it.
bool is_attnsim_report(const std::string& path);
void write_text_atomic(const std::string& path, const std::string& text);

// Peak resident memory of this process, MiB.
double peak_rss_mib();

}  // namespace attnsim
