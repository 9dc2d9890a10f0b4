#include "report/compare.h"

#include <cstdio>
#include <iomanip>
#include <sstream>

#include "util/error.h"
#include "util/json_reader.h"

namespace attnsim {

namespace {

struct Metric {
  const char* label;
  const char* pointer;  // JSON pointer into a report
  bool ratio;           // show the ratio to the baseline
};

const Metric kMetrics[] = {
    {"cycles", "/total/cycles", true},
    {"time (us)", "/total/time_us", true},
    {"speedup vs baseline", "", false},
    {"PE-array MACs", "/total/macs/pe_array", true},
    {"MACs / dense", "/total/macs/pe_array_vs_dense", false},
    {"PE-array MAC utilisation", "/total/units/pe_array/mac_utilisation", false},
    {"PE-array busy fraction", "/total/units/pe_array/busy_fraction", false},
    {"mask-unit busy fraction", "/total/units/mask_unit/busy_fraction", false},
    {"DRAM bytes read", "/total/units/dram/bytes_read", true},
    {"DRAM bytes written", "/total/units/dram/bytes_written", true},
    {"mask density", "/total/mask/density", false},
    {"mask recall", "/total/mask/recall", false},
    {"output relative error", "/total/accuracy/relative_error", false},
    {"output max abs error", "/total/accuracy/max_abs_error", false},
    {"GPU time (us)", "/gpu/time_us", true},
    {"speedup vs GPU", "", false},  // the report's attached GPU time (attnsim run --gpu-timing) over its own
};

std::string format_number(double v) {
  std::ostringstream s;
  if (v == static_cast<double>(static_cast<int64_t>(v)) && std::abs(v) < 1e15) s << static_cast<int64_t>(v);
  else s << std::setprecision(4) << v;
  return s.str();
}

bool lookup(const nlohmann::json& r, const char* pointer, double& out) {
  const nlohmann::json::json_pointer p(pointer);
  if (!r.contains(p) || !r.at(p).is_number()) return false;
  out = r.at(p).get<double>();
  return true;
}

}  // namespace

CompareInput load_report(const std::string& path) {
  CompareInput in;
  in.report = JsonReader::load_file(path);
  if (!in.report.is_object() || !in.report.contains("total"))
    throw InputError(path, "total", "missing: not an attnsim report");
  in.label = in.report.value("/arch/name"_json_pointer, path);
  return in;
}

std::string compare_reports(const std::vector<CompareInput>& reports, size_t baseline, TableFormat format) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"metric"};
  for (size_t i = 0; i < reports.size(); ++i)
    header.push_back(reports[i].label + (i == baseline ? " (baseline)" : ""));
  rows.push_back(header);
  for (const auto& m : kMetrics) {
    std::vector<std::string> row = {m.label};
    bool any = false;
    for (size_t i = 0; i < reports.size(); ++i) {
      double v = 0, base = 0;
      std::string cell = "-";
      if (std::string(m.label) == "speedup vs baseline") {
        if (lookup(reports[i].report, "/total/cycles", v) && lookup(reports[baseline].report, "/total/cycles", base) &&
            v > 0) {
          // Compare wall-clock time so different clocks compare fairly.
          double tv = 0, tb = 0;
          lookup(reports[i].report, "/total/time_us", tv);
          lookup(reports[baseline].report, "/total/time_us", tb);
          cell = format_number(tb / tv) + "x";
          any = true;
        }
      } else if (std::string(m.label) == "speedup vs GPU") {
        double gpu = 0;
        if (lookup(reports[i].report, "/gpu/time_us", gpu) && lookup(reports[i].report, "/total/time_us", v) && v > 0) {
          cell = format_number(gpu / v) + "x";
          any = true;
        }
      } else if (lookup(reports[i].report, m.pointer, v)) {
        cell = format_number(v);
        if (m.ratio && i != baseline && lookup(reports[baseline].report, m.pointer, base) && base != 0)
          cell += " (" + format_number(v / base) + "x)";
        any = true;
      }
      row.push_back(cell);
    }
    if (any) rows.push_back(row);
  }

  std::ostringstream out;
  if (format == TableFormat::csv) {
    for (const auto& r : rows) {
      for (size_t c = 0; c < r.size(); ++c) {
        std::string cell = r[c];
        if (cell.find_first_of(",\"") != std::string::npos) {
          std::string q = "\"";
          for (char ch : cell) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
          cell = q + "\"";
        }
        out << (c ? "," : "") << cell;
      }
      out << "\n";
    }
    return out.str();
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (format == TableFormat::markdown) out << "|";
    for (size_t c = 0; c < r.size(); ++c) {
      out << (format == TableFormat::markdown ? " " : (c ? "  " : ""));
      if (c == 0) out << std::left;
      else out << std::right;
      out << std::setw(static_cast<int>(width[c])) << r[c];
      if (format == TableFormat::markdown) out << " |";
    }
    out << "\n";
    if (i == 0) {
      if (format == TableFormat::markdown) {
        out << "|";
        for (size_t c = 0; c < r.size(); ++c) out << (c ? " " + std::string(width[c] - 1, '-') + ": |" : " " + std::string(width[c], '-') + " |");
        out << "\n";
      } else {
        size_t total = 0;
        for (size_t c = 0; c < width.size(); ++c) total += width[c] + (c ? 2 : 0);
        out << std::string(total, '-') << "\n";
      }
    }
  }
  return out.str();
}

}  // namespace attnsim
