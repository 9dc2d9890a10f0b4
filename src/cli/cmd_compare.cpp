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
      ("reports", po::value(&files)->required()->multitoken(), "report JSON files (positional)")
      ("format,f", po::value(&format), "table | markdown | csv")
      ("baseline,b", po::value(&baseline), "report file or arch name to compare against (default: the first)");
  po::positional_options_description pos;
  pos.add("reports", -1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "usage: attnsim compare REPORT.json... [--baseline R] [--format table|markdown|csv]",
                     desc, &pos, vm))
    return 0;
  TableFormat f;
  if (format == "table") f = TableFormat::text;
  else if (format == "markdown") f = TableFormat::markdown;
  else if (format == "csv") f = TableFormat::csv;
  else throw InputError("", "--format", "unknown value '" + format + "' (expected table, markdown or csv)");
  std::vector<CompareInput> reports;
  for (const auto& file : files) reports.push_back(load_report(file));
  size_t base = 0;
  if (!baseline.empty()) {
    bool found = false;
    for (size_t i = 0; i < reports.size() && !found; ++i)
      if (files[i] == baseline || reports[i].label == baseline) base = i, found = true;
    if (!found) throw InputError("", "--baseline", "'" + baseline + "' is none of the given reports");
  }
  std::cout << compare_reports(reports, base, f);
  return 0;
}

}  // namespace attnsim
