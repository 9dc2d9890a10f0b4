#pragma once
// Reports and sweep points side by side: one column per architecture (a
// report, or a point of a sweep summary), one row per metric, with the ratio
// of each to a baseline column.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnsim {

struct CompareInput {
  std::string label;     // the run's name (report.run.name, else arch.name, else the file); sweep points: <sweep>#<index>
  nlohmann::json report;  // the run's report, or null for a sweep point whose report is not at hand
  nlohmann::json point;   // a sweep summary's point ({index, status, params, workload, metrics, ...}), or null
};

enum class TableFormat { text, markdown, csv };

// `baseline` indexes `reports`. Text and Markdown: a column per report, a row
// per metric, ratios to the baseline beside the values. CSV: a row per report,
// a column per metric (`time_us`, `energy_uj`, ...) and per ratio
// (`time_us_vs_baseline`), numbers at full precision. Metrics missing from a
// column show as "—" (empty in CSV); a metric missing from every column is left out.
std::string compare_reports(const std::vector<CompareInput>& reports, size_t baseline, TableFormat format);

// Rows of cells (the first is the header) as an aligned text table (first
// column left-aligned, the others right-aligned), Markdown, or CSV. An empty
// cell shows as "—" in text and Markdown.
std::string format_table(const std::vector<std::vector<std::string>>& rows, TableFormat format);

// An integer as is, anything else with 4 significant digits.
std::string format_number(double v);
// An integer as is, anything else with the digits that read back as the same double.
std::string full_precision(double v);

// Loads a report, with an error naming the file if it is not one.
CompareInput load_report(const std::string& path);

// A report (one column) or a sweep summary.json (one column per point, or per
// Pareto-front point with `pareto_only`; a point's report is read when its
// file is there, else the summary's metrics stand in for it).
std::vector<CompareInput> load_compare_inputs(const std::string& path, bool pareto_only = false);

}  // namespace attnsim
