#include "report/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <optional>
#include <set>
#include <sstream>

#include "util/error.h"
#include "util/json_reader.h"

namespace attnsim {

namespace {

using Value = std::optional<double>;
using Getter = std::function<Value(const CompareInput&)>;

Value number_at(const nlohmann::json& j, const std::string& pointer) {
  if (j.is_null()) return std::nullopt;
  const nlohmann::json::json_pointer p(pointer);
  if (!j.contains(p) || !j.at(p).is_number()) return std::nullopt;
  return j.at(p).get<double>();
}

// A report field, or else one of a sweep point's metrics (the summary's
// names), scaled for display.
Getter field(std::string pointer, std::vector<std::string> summary_keys = {}, double scale = 1) {
  return [=](const CompareInput& in) -> Value {
    Value v = number_at(in.report, pointer);
    if (!v && in.point.is_object() && in.point.contains("metrics"))
      for (const auto& key : summary_keys)
        if ((v = number_at(in.point["metrics"], "/" + key))) break;
    if (v) *v *= scale;
    return v;
  };
}

// The sum of a report object's members whose names start with `prefix`.
Getter sum_of(std::string object_pointer, std::string prefix, double scale) {
  return [=](const CompareInput& in) -> Value {
    const nlohmann::json::json_pointer p(object_pointer);
    if (in.report.is_null() || !in.report.contains(p) || !in.report.at(p).is_object()) return std::nullopt;
    Value sum;
    for (const auto& [k, v] : in.report.at(p).items())
      if (k.rfind(prefix, 0) == 0 && v.is_number()) sum = sum.value_or(0) + v.get<double>() * scale;
    return sum;
  };
}

Value dram_bytes(const CompareInput& in) {
  const Value r = number_at(in.report, "/total/units/dram/bytes_read");
  const Value w = number_at(in.report, "/total/units/dram/bytes_written");
  if (r && w) return *r + *w;
  return field("", {"dram_bytes"})(in);
}

Value speedup_over_gpu(const CompareInput& in) {
  const Value gpu = number_at(in.report, "/gpu/time_us"), t = field("/total/time_us", {"time_us"})(in);
  if (gpu && t && *t > 0) return *gpu / *t;
  return std::nullopt;
}

enum class Show { value, ratio, times_baseline_over_value };

struct Metric {
  std::string label;  // the tables' row name
  std::string key;    // the CSV column name (with its unit)
  Getter get;
  Show show = Show::value;  // ratio: "v (v/base x)"; times_baseline_over_value: "base/v x" (speedups)
};

const std::vector<Metric>& metrics() {
  const double uj = 1e-6;  // pJ -> uJ
  static const std::vector<Metric> m = {
      {"cycles", "cycles", field("/total/cycles", {"cycles"}), Show::ratio},
      {"time (us)", "time_us", field("/total/time_us", {"time_us"}), Show::ratio},
      {"speedup vs baseline", "speedup_vs_baseline", field("/total/time_us", {"time_us"}),
       Show::times_baseline_over_value},
      {"energy (uJ)", "energy_uj", field("/total/energy/total_pj", {"energy_pj"}, uj), Show::ratio},
      {"energy saving vs baseline", "energy_saving_vs_baseline", field("/total/energy/total_pj", {"energy_pj"}),
       Show::times_baseline_over_value},
      {"  mask-unit energy (uJ)", "mask_unit_energy_uj", field("/total/energy/by_unit/mask_unit", {}, uj), Show::ratio},
      {"  encoder energy (uJ)", "encoder_energy_uj", field("/total/energy/by_unit/encoder", {}, uj), Show::ratio},
      {"  PE-array energy (uJ)", "pe_array_energy_uj", field("/total/energy/by_unit/pe_array", {}, uj), Show::ratio},
      {"  SRAM energy (uJ)", "sram_energy_uj", field("/total/energy/by_operation/sram", {}, uj), Show::ratio},
      {"  DRAM energy (uJ)", "dram_energy_uj", field("/total/energy/by_unit/dram", {}, uj), Show::ratio},
      {"area (mm2)", "area_mm2", field("/area/total_mm2", {"area_mm2"}), Show::ratio},
      {"  PE-array area (mm2)", "pe_array_area_mm2", field("/area/by_unit/pe_array"), Show::ratio},
      {"  mask-unit area (mm2)", "mask_unit_area_mm2", field("/area/by_unit/mask_unit"), Show::ratio},
      {"  encoder area (mm2)", "encoder_area_mm2", field("/area/by_unit/encoder"), Show::ratio},
      {"  SRAM area (mm2)", "sram_area_mm2", sum_of("/area/by_unit", "sram_", 1), Show::ratio},
      {"PE-array MACs", "pe_array_macs", field("/total/macs/pe_array"), Show::ratio},
      {"MACs / dense", "macs_vs_dense", field("/total/macs/pe_array_vs_dense")},
      {"PE-array MAC utilisation", "mac_utilisation",
       field("/total/units/pe_array/mac_utilisation", {"mac_utilisation"})},
      {"PE-array busy fraction", "pe_array_busy_fraction",
       field("/total/units/pe_array/busy_fraction", {"pe_utilisation"})},
      {"mask-unit busy fraction", "mask_unit_busy_fraction", field("/total/units/mask_unit/busy_fraction")},
      {"DRAM bytes", "dram_bytes", dram_bytes, Show::ratio},
      {"DRAM bytes read", "dram_bytes_read", field("/total/units/dram/bytes_read"), Show::ratio},
      {"DRAM bytes written", "dram_bytes_written", field("/total/units/dram/bytes_written"), Show::ratio},
      {"mask density", "mask_density", field("/total/mask/density", {"density", "mask_density"})},
      {"mask recall", "mask_recall", field("/total/mask/recall")},
      {"output relative error", "relative_error", field("/total/accuracy/relative_error", {"relative_error"})},
      {"output max abs error", "max_abs_error", field("/total/accuracy/max_abs_error")},
      {"GPU time (us)", "gpu_time_us", field("/gpu/time_us"), Show::ratio},
      {"speedup over the GPU", "speedup_over_gpu", speedup_over_gpu},
  };
  return m;
}

std::string text_of(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return format_number(v.get<double>());
  if (v.is_null()) return "";
  return v.dump();
}

// A string-valued row's cell: a report field, or a sweep point's field.
std::string text_at(const CompareInput& in, const std::string& report_pointer, const std::string& point_key) {
  if (!report_pointer.empty() && in.report.is_object()) {
    const nlohmann::json::json_pointer p(report_pointer);
    if (in.report.contains(p)) return text_of(in.report.at(p));
  }
  if (!point_key.empty() && in.point.is_object() && in.point.contains(point_key)) return text_of(in.point[point_key]);
  return "";
}

// "pe_array.rows" -> "/arch/pe_array/rows"
std::string arch_pointer(const std::string& dotted) {
  std::string p = "/arch/" + dotted;
  std::replace(p.begin(), p.end(), '.', '/');
  return p;
}

size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count UTF-8 code points, not bytes
  return n;
}

std::string pad(const std::string& s, size_t width, bool left) {
  const std::string fill(width > display_width(s) ? width - display_width(s) : 0, ' ');
  return left ? s + fill : fill + s;
}

}  // namespace

std::string format_number(double v) {
  std::ostringstream s;
  if (v == static_cast<double>(static_cast<int64_t>(v)) && std::abs(v) < 1e15) s << static_cast<int64_t>(v);
  else s << std::setprecision(4) << v;
  return s.str();
}

std::string full_precision(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && std::abs(v) < 1e15)
    return std::to_string(static_cast<int64_t>(v));
  return nlohmann::json(v).dump();  // the shortest text that reads back as the same double
}

CompareInput load_report(const std::string& path) {
  CompareInput in;
  in.report = JsonReader::load_file(path);
  if (!in.report.is_object() || !in.report.contains("total"))
    throw InputError(path, "total", "missing: not an attnsim report");
  // The run's name (the arch's, with its --set overrides, or attnsim run --name), else the arch's.
  in.label = in.report.value("/run/name"_json_pointer, in.report.value("/arch/name"_json_pointer, path));
  return in;
}

std::vector<CompareInput> load_compare_inputs(const std::string& path, bool pareto_only) {
  namespace fs = std::filesystem;
  const nlohmann::json j = JsonReader::load_file(path);
  if (j.is_object() && j.contains("total")) return {load_report(path)};
  if (!j.is_object() || !j.contains("points"))
    throw InputError(path, "", "neither an attnsim report (no \"total\") nor a sweep summary (no \"points\")");
  if (!j["points"].is_array()) throw InputError(path, "points", "expected an array of sweep points");
  std::string name = fs::path(path).parent_path().filename().string();
  if (name.empty()) name = fs::path(path).stem().string();
  if (j.contains("/spec/name"_json_pointer) && j["spec"]["name"].is_string()) name = j["spec"]["name"];
  std::set<int64_t> pareto;
  if (j.contains("pareto") && j["pareto"].is_array())
    for (const auto& i : j["pareto"])
      if (i.is_number_integer()) pareto.insert(i.get<int64_t>());
  std::vector<CompareInput> out;
  for (size_t i = 0; i < j["points"].size(); ++i) {
    const auto& p = j["points"][i];
    const std::string where = "points[" + std::to_string(i) + "]";
    if (!p.is_object() || !p.contains("index") || !p["index"].is_number_integer())
      throw InputError(path, where + ".index", "expected a point object with an integer index");
    for (const char* key : {"params", "metrics"})
      if (p.contains(key) && !p[key].is_object() && !p[key].is_null())
        throw InputError(path, where + "." + key, "expected an object");
    const int64_t index = p["index"].get<int64_t>();
    if (pareto_only && !pareto.count(index)) continue;
    CompareInput in;
    in.label = name + "#" + std::to_string(index);
    in.point = p;
    // The point's own report when it is at hand (a path relative to the summary).
    if (p.contains("report") && p["report"].is_string()) {
      fs::path rp = p["report"].get<std::string>();
      if (rp.is_relative()) rp = fs::path(path).parent_path() / rp;
      std::error_code ec;
      if (fs::is_regular_file(rp, ec)) {
        try {
          in.report = load_report(rp.string()).report;
        } catch (const InputError&) {
          in.report = nullptr;  // unreadable: the summary's metrics stand in
        }
      }
    }
    out.push_back(std::move(in));
  }
  return out;
}

std::string compare_reports(const std::vector<CompareInput>& reports, size_t baseline, TableFormat format) {
  // What each column is: text rows (empty cells where a column lacks one).
  std::vector<std::vector<std::string>> text_rows;  // {label, cell per column}
  auto add_text_row = [&](const std::string& label, const std::function<std::string(const CompareInput&)>& get) {
    std::vector<std::string> row = {label};
    bool any = false;
    for (const auto& in : reports) {
      row.push_back(get(in));
      any |= !row.back().empty();
    }
    if (any) text_rows.push_back(row);
  };
  add_text_row("workload", [](const CompareInput& in) { return text_at(in, "/workload/name", "workload"); });
  // The unit in each slot (a sweep point's report has it too).
  for (const char* slot : {"mask_unit", "encoder", "pe_array"})
    add_text_row(std::string(slot) + ".kind",
                 [slot](const CompareInput& in) { return text_at(in, "/arch/" + std::string(slot) + "/kind", ""); });
  std::set<std::string> params;  // the swept parameters of every sweep point
  for (const auto& in : reports)
    if (in.point.is_object() && in.point.contains("params") && in.point["params"].is_object())
      for (const auto& [k, v] : in.point["params"].items()) params.insert(k);
  for (const auto& param : params)
    add_text_row(param, [&](const CompareInput& in) {
      if (in.point.is_object() && in.point.contains("params") && in.point["params"].contains(param))
        return text_of(in.point["params"][param]);
      return text_at(in, arch_pointer(param), "");
    });
  add_text_row("status", [](const CompareInput& in) { return text_at(in, "", "status"); });
  add_text_row("GPU", [](const CompareInput& in) { return text_at(in, "/gpu/name", ""); });

  // The metrics some column has: values, and the baseline's.
  struct MetricRow {
    const Metric* metric;
    std::vector<Value> values;
  };
  std::vector<MetricRow> metric_rows;
  for (const auto& m : metrics()) {
    MetricRow row{&m, {}};
    for (const auto& in : reports) row.values.push_back(m.get(in));
    if (std::any_of(row.values.begin(), row.values.end(), [](const Value& v) { return v.has_value(); }))
      metric_rows.push_back(std::move(row));
  }
  auto ratio_to_base = [&](const MetricRow& row, size_t i) -> Value {
    const Value v = row.values[i], base = row.values[baseline];
    if (row.metric->show == Show::times_baseline_over_value) {
      if (v && base && *v > 0) return *base / *v;
    } else if (row.metric->show == Show::ratio && v && base && *base != 0) {
      return *v / *base;
    }
    return std::nullopt;
  };

  std::vector<std::vector<std::string>> rows;
  if (format == TableFormat::csv) {
    // For spreadsheets and pandas: one row per column compared, one column per
    // metric (its unit in the name), ratios to the baseline in columns of
    // their own, numbers at full precision.
    std::vector<std::string> header = {"column", "baseline"};
    for (const auto& t : text_rows) header.push_back(t[0]);
    for (const auto& r : metric_rows) {
      header.push_back(r.metric->key);
      if (r.metric->show == Show::ratio) header.push_back(r.metric->key + "_vs_baseline");
    }
    rows.push_back(header);
    auto exact = [](const Value& v) { return v ? full_precision(*v) : std::string(); };
    for (size_t i = 0; i < reports.size(); ++i) {
      std::vector<std::string> row = {reports[i].label, i == baseline ? "1" : "0"};
      for (const auto& t : text_rows) row.push_back(t[i + 1]);
      for (const auto& r : metric_rows) {
        if (r.metric->show == Show::times_baseline_over_value) {
          row.push_back(exact(ratio_to_base(r, i)));
        } else {
          row.push_back(exact(r.values[i]));
          if (r.metric->show == Show::ratio) row.push_back(exact(ratio_to_base(r, i)));
        }
      }
      rows.push_back(row);
    }
    return format_table(rows, format);
  }

  // Terminal and Markdown: one column per report, one row per metric, the
  // ratio beside the value.
  std::vector<std::string> header = {"metric"};
  for (size_t i = 0; i < reports.size(); ++i)
    header.push_back(reports[i].label + (i == baseline ? " (baseline)" : ""));
  rows.push_back(header);
  for (const auto& t : text_rows)
    if (t[0] != "GPU") rows.push_back(t);
  for (const auto& r : metric_rows) {
    std::vector<std::string> row = {r.metric->label};
    for (size_t i = 0; i < reports.size(); ++i) {
      const Value ratio = ratio_to_base(r, i);
      std::string cell;
      if (r.metric->show == Show::times_baseline_over_value) {
        if (ratio) cell = format_number(*ratio) + "x";
      } else if (r.values[i]) {
        cell = format_number(*r.values[i]);
        if (ratio && i != baseline) cell += " (" + format_number(*ratio) + "x)";
      }
      row.push_back(cell);
    }
    rows.push_back(row);
  }
  for (const auto& t : text_rows)
    if (t[0] == "GPU") rows.push_back(t);
  return format_table(rows, format);
}

std::string format_table(const std::vector<std::vector<std::string>>& rows, TableFormat format) {
  if (rows.empty()) return "";
  std::ostringstream out;
  if (format == TableFormat::csv) {
    for (const auto& r : rows) {
      for (size_t c = 0; c < r.size(); ++c) {
        std::string cell = r[c];
        if (cell.find_first_of(",\"\n\r") != std::string::npos) {
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
  const std::string missing = "\u2014";  // em dash
  auto shown = [&](const std::string& cell) { return cell.empty() ? missing : cell; };
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], display_width(shown(r[c])));
  const bool md = format == TableFormat::markdown;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (md) out << "|";
    for (size_t c = 0; c < r.size() && c < width.size(); ++c) {
      out << (md ? " " : (c ? "  " : "")) << pad(shown(r[c]), width[c], c == 0);
      if (md) out << " |";
    }
    out << "\n";
    if (i == 0) {
      if (md) {
        out << "|";
        for (size_t c = 0; c < r.size(); ++c)
          out << (c ? " " + std::string(width[c] - 1, '-') + ": |" : " " + std::string(width[c], '-') + " |");
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
