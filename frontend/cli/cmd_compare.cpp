#include <iostream>
#include <map>
#include <set>

#include "cli/commands.h"
#include "cli/options.h"
#include "report/compare.h"

namespace attnsim {

namespace {

std::string workload_of(const CompareInput& in) {
  if (in.report.is_object() && in.report.contains("/workload/name"_json_pointer))
    return in.report["workload"]["name"].get<std::string>();
  if (in.point.is_object() && in.point.contains("workload") && in.point["workload"].is_string())
    return in.point["workload"].get<std::string>();
  return "";
}

}  // namespace

int cmd_compare(int argc, char** argv) {
  po::options_description desc("attnsim compare options");
  std::vector<std::string> files;
  std::string format, baseline;
  desc.add_options()
      ("help,h", "print this help")
      ("reports", po::value(&files)->required()->multitoken(),
       "report JSON files and/or sweep summary.json files (positional); a summary gives one column per point")
      ("format,f", po::value(&format)->default_value("table"),
       "table (aligned text) | markdown | csv (one row per report, one column per metric and per ratio)")
      ("baseline,b", po::value(&baseline),
       "column to compare against: a report file, a run's name (its arch's name unless attnsim run --name or "
       "--set changed it), or a sweep point SWEEP#INDEX (default: the first column)")
      ("pareto", "from sweep summaries, only the points on the Pareto front");
  po::positional_options_description pos;
  pos.add("reports", -1);
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "usage: attnsim compare REPORT.json|SUMMARY.json... [--baseline NAME] [--format table|markdown|csv] "
                     "[--pareto]",
                     desc, &pos, vm))
    return 0;
  TableFormat f;
  if (format == "table") f = TableFormat::text;
  else if (format == "markdown") f = TableFormat::markdown;
  else if (format == "csv") f = TableFormat::csv;
  else throw InputError("", "--format", "unknown value '" + format + "' (expected table, markdown or csv)");
  std::vector<CompareInput> reports;
  std::vector<std::string> sources, names;  // the file each column comes from, its label as loaded
  for (const auto& file : files)
    for (auto& in : load_compare_inputs(file, vm.count("pareto") > 0)) {
      names.push_back(in.label);
      reports.push_back(std::move(in));
      sources.push_back(file);
    }
  if (reports.empty())
    throw InputError(files.front(), "points", "nothing to compare: no sweep points (or, with --pareto, none on the front)");
  // Columns of the same name (one preset on two workloads, a report given
  // twice) are told apart by their files.
  std::map<std::string, int> uses;
  for (const auto& n : names) ++uses[n];
  for (size_t i = 0; i < reports.size(); ++i)
    if (uses[names[i]] > 1 && reports[i].point.is_null()) reports[i].label = names[i] + " <" + sources[i] + ">";
  size_t base = 0;
  if (!baseline.empty()) {
    std::vector<size_t> matches;
    for (size_t i = 0; i < reports.size(); ++i)
      if (reports[i].label == baseline || names[i] == baseline ||
          (reports[i].point.is_null() && sources[i] == baseline))
        matches.push_back(i);
    if (matches.empty()) throw InputError("", "--baseline", "'" + baseline + "' is none of the given reports or sweep points");
    if (matches.size() > 1) {
      std::string which;
      for (size_t i : matches) which += (which.empty() ? "" : ", ") + sources[i];
      throw InputError("", "--baseline", "'" + baseline + "' names " + std::to_string(matches.size()) +
                                             " columns (" + which + "); give the report file instead");
    }
    base = matches.front();
  }
  // Ratios between different workloads compare different work: say so.
  std::set<std::string> workloads;
  for (const auto& in : reports)
    if (const std::string w = workload_of(in); !w.empty()) workloads.insert(w);
  if (workloads.size() > 1) {
    std::string list;
    for (const auto& w : workloads) list += (list.empty() ? "" : ", ") + w;
    std::cerr << "attnsim compare: warning: the columns come from " << workloads.size() << " workloads (" << list
              << "): ratios between them compare different work\n";
  }
  std::cout << compare_reports(reports, base, f);
  return 0;
}

}  // namespace attnsim
