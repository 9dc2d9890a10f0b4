#pragma once
// Reports side by side: one column per report, one row per metric, with the
// ratio of each to a baseline report.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnsim {

struct CompareInput {
  std::string label;  // arch name (or file name when the arch has none)
  nlohmann::json report;
};

enum class TableFormat { text, markdown, csv };

// `baseline` indexes `reports`. Metrics missing from a report show as "-".
std::string compare_reports(const std::vector<CompareInput>& reports, size_t baseline, TableFormat format);

// Rows of cells (the first is the header) as an aligned text table (first
// column left-aligned, the others right-aligned), Markdown, or CSV.
std::string format_table(const std::vector<std::vector<std::string>>& rows, TableFormat format);

// An integer as is, anything else with 4 significant digits.
std::string format_number(double v);

// Loads a report, with an error naming the file if it is not one.
CompareInput load_report(const std::string& path);

}  // namespace attnsim
