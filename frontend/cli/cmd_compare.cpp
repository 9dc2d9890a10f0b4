#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "report/compare.h"

namespace attnsim {

int cmd_compare(int argc, char** argv) {
  po::options_description desc("attnsim compare options");
  std::vector<std::string> files;
  std::string format = "table", baseline;
  desc.add_options()
      ("help,h", "print this help")
      ("reports", po::value(&files)->required()->multitoken(),
       "report JSON files and/or sweep summary.json files (positional); a summary gives one column per point")
      ("format,f", po::value(&format), "table | markdown | csv")
      ("baseline,b", po::value(&baseline),
       "column to compare against: a report file, an arch name, or a sweep point SWEEP#INDEX (default: the first)")
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
  std::vector<std::string> sources;  // the file each column comes from
  for (const auto& file : files)
    for (auto& in : load_compare_inputs(file, vm.count("pareto") > 0)) {
      reports.push_back(std::move(in));
      sources.push_back(file);
    }
  if (reports.empty())
    throw InputError(files.front(), "points", "nothing to compare: no sweep points (or, with --pareto, none on the front)");
  size_t base = 0;
  if (!baseline.empty()) {
    bool found = false;
    for (size_t i = 0; i < reports.size() && !found; ++i)
      if (reports[i].label == baseline || (reports[i].point.is_null() && sources[i] == baseline)) base = i, found = true;
    if (!found) throw InputError("", "--baseline", "'" + baseline + "' is none of the given reports or sweep points");
  }
  std::cout << compare_reports(reports, base, f);
  return 0;
}

}  // namespace attnsim
