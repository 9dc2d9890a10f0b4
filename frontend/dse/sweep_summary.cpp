#include "dse/sweep_summary.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <cmath>
#include <set>

#include "report/compare.h"
#include "util/error.h"
#include "util/json_reader.h"

namespace attnsim {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "attnsim-sweep-summary";

// The number at a dotted report path, or null.
nlohmann::json metric(const nlohmann::json& report, const std::string& dotted) {
  std::string pointer = "/" + dotted;
  std::replace(pointer.begin(), pointer.end(), '.', '/');
  try {
    const nlohmann::json::json_pointer p(pointer);
    return report.contains(p) && report.at(p).is_number() ? report.at(p) : nlohmann::json();
  } catch (const nlohmann::json::exception&) {  // not a valid path (e.g. "a..b")
    return nullptr;
  }
}

// Report paths of a period object and the area (docs/report_schema.md);
// [a-z0-9_]+ stands for names the arch decides (units' stages and counts,
// energy and area by unit).
const std::regex& known_paths() {
  static const std::regex r(
      "total\\.(cycles|time_us)"
      "|total\\.units\\.(pe_array|mask_unit|encoder)\\.(busy_cycles|busy_fraction|pes|macs|mac_utilisation|"
      "overall_utilisation|pack_split_utilisation)"
      "|total\\.units\\.(pe_array|mask_unit|encoder)\\.(stages|counts)\\.[a-z0-9_]+"
      "|total\\.units\\.dram\\.(busy_cycles|busy_fraction|bytes_read|bytes_written|bursts|bytes_without_skipping|"
      "bytes_saved)"
      "|total\\.sram\\.(q|k|v|score|output)\\.(capacity_bytes|bytes_read|bytes_written|bytes_spilled)"
      "|total\\.macs\\.(pe_array|all_units|dense_attention|pe_array_vs_dense)"
      "|total\\.mask\\.(density|recall|kept|allowed)"
      "|total\\.accuracy\\.(max_abs_error|relative_error|compared_rows)"
      "|total\\.energy\\.total_pj|total\\.energy\\.by_unit\\.[a-z0-9_]+"
      "|total\\.energy\\.by_operation\\.(mac|softmax|normalise|compare|add|index|sram|dram)"
      "|area\\.total_mm2|area\\.by_unit\\.[a-z0-9_]+");
  return r;
}

// Summary columns: (name, dotted report path).
const std::pair<const char*, const char*> kMetrics[] = {
    {"cycles", "total.cycles"},
    {"time_us", "total.time_us"},
    {"energy_pj", "total.energy.total_pj"},
    {"area_mm2", "area.total_mm2"},
    {"pe_utilisation", "total.units.pe_array.busy_fraction"},
    {"mac_utilisation", "total.units.pe_array.mac_utilisation"},  // useful MACs / (PEs x cycles)
    {"dram_bytes", ""},  // read + written
    {"mask_density", "total.mask.density"},
    {"relative_error", "total.accuracy.relative_error"},
};

std::string cell(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string goal(const SweepObjective& o) { return o.maximise ? "max" : "min"; }

}  // namespace

nlohmann::json report_metric(const nlohmann::json& report, const std::string& name) {
  if (name == "edp_pj_us") {
    const auto e = metric(report, "total.energy.total_pj"), t = metric(report, "total.time_us");
    return e.is_number() && t.is_number() ? nlohmann::json(e.get<double>() * t.get<double>()) : nlohmann::json();
  }
  if (name == "sram_kib") {
    const nlohmann::json::json_pointer p("/total/sram");
    if (!report.contains(p) || !report.at(p).is_object() || report.at(p).empty()) return nullptr;
    double bytes = 0;
    for (const auto& [buffer, b] : report.at(p).items()) {
      if (!b.is_object() || !b.contains("capacity_bytes") || !b["capacity_bytes"].is_number()) return nullptr;
      bytes += b["capacity_bytes"].get<double>();
    }
    return bytes / 1024;
  }
  return metric(report, name);
}

bool known_metric(const std::string& name) {
  return name == "edp_pj_us" || name == "sram_kib" || std::regex_match(name, known_paths());
}

std::string unknown_metric(const std::string& name) {
  return "unknown column '" + name +
         "': expected a report path (docs/report_schema.md), e.g. total.cycles, total.time_us, "
         "total.energy.total_pj, area.total_mm2, total.accuracy.relative_error, total.mask.recall, "
         "total.mask.density, total.units.pe_array.mac_utilisation, or a derived column: edp_pj_us, sram_kib";
}

std::pair<double, double> metric_bounds(const std::string& name) {
  static const std::regex fraction(
      "total\\.mask\\.(density|recall)|.*\\.busy_fraction|.*_utilisation");
  return {0.0, std::regex_match(name, fraction) ? 1.0 : HUGE_VAL};
}

nlohmann::json point_entry(const SweepSpec& spec, const SweepPoint& point, const nlohmann::json* report,
                           const std::string& error, const std::vector<SweepObjective>& objectives) {
  nlohmann::json e;
  e["index"] = point.index;
  e["hash"] = point.hash;
  e["status"] = report ? "ok" : "failed";
  e["params"] = nlohmann::json::object();
  for (const auto& [path, value] : point.params) e["params"][path] = value;
  e["workload"] = spec.workloads[point.workload].spec.name;
  nlohmann::json metrics = nlohmann::json::object(), values = nlohmann::json::object();
  nlohmann::json host = {{"wall_time_s", nullptr}, {"functional_cache_hits", nullptr}};
  for (const auto& [name, path] : kMetrics) metrics[name] = nullptr;
  for (const auto& o : objectives) values[o.metric] = nullptr;
  if (report) {
    for (const auto& [name, path] : kMetrics) metrics[name] = *path ? metric(*report, path) : nlohmann::json();
    const auto read = metric(*report, "total.units.dram.bytes_read"), written = metric(*report, "total.units.dram.bytes_written");
    if (read.is_number() && written.is_number()) metrics["dram_bytes"] = read.get<int64_t>() + written.get<int64_t>();
    for (const auto& o : objectives) values[o.metric] = report_metric(*report, o.metric);
    host["wall_time_s"] = metric(*report, "simulator.wall_time_s");
    host["functional_cache_hits"] = metric(*report, "simulator.functional_cache_hits");
  }
  e["metrics"] = metrics;
  e["objectives"] = values;
  e["report"] = report ? nlohmann::json(point_report_path(point.hash)) : nlohmann::json();
  e["error"] = error.empty() ? nlohmann::json() : nlohmann::json(error);
  e["host"] = host;
  if (!spec.constraints.empty()) {
    nlohmann::json cs = nlohmann::json::array();
    nlohmann::json feasible = report ? nlohmann::json(true) : nlohmann::json();
    for (const auto& c : spec.constraints) {
      nlohmann::json v = report ? report_metric(*report, c.metric) : nlohmann::json();
      // How far past its bound, relative to the bound (so constraints of
      // different units weigh alike in the search); <= 0 when met.
      nlohmann::json violation;
      if (v.is_number()) {
        const double x = v.get<double>();
        double worst = -HUGE_VAL;
        for (const auto& [bound, sign] : {std::pair{c.max, 1.0}, std::pair{c.min, -1.0}})
          if (bound) worst = std::max(worst, sign * (x - *bound) / std::max(std::abs(*bound), 1e-12));
        violation = worst;
        if (worst > 0) feasible = false;
      } else if (report) {
        feasible = false;  // a report without the metric cannot be shown to meet it
      }
      cs.push_back({{"metric", c.metric},
                    {"min", c.min ? nlohmann::json(*c.min) : nlohmann::json()},
                    {"max", c.max ? nlohmann::json(*c.max) : nlohmann::json()},
                    {"value", v},
                    {"violation", violation}});
    }
    e["constraints"] = cs;
    e["feasible"] = feasible;
  }
  return e;
}

nlohmann::json make_summary(const SummaryParts& parts, std::vector<std::string>* warnings) {
  std::vector<const nlohmann::json*> ok, candidates;  // candidates: ok and not marked infeasible
  for (const auto& p : parts.points)
    if (p["status"] == "ok") {
      ok.push_back(&p);
      if (!(p.contains("feasible") && p["feasible"] == false)) candidates.push_back(&p);
    }
  // Objectives every successful report has.
  std::vector<SweepObjective> used;
  nlohmann::json objectives = nlohmann::json::array();
  for (const auto& o : parts.objectives) {
    const auto have = std::count_if(ok.begin(), ok.end(), [&](const nlohmann::json* p) {
      return p->at("objectives").contains(o.metric) && p->at("objectives").at(o.metric).is_number();
    });
    const bool use = !ok.empty() && have == static_cast<std::ptrdiff_t>(ok.size());
    if (use) used.push_back(o);
    else if (!ok.empty() && warnings)
      warnings->push_back("objective " + o.metric + " (" + goal(o) + ") is missing from " +
                          std::to_string(ok.size() - have) + " of " + std::to_string(ok.size()) +
                          " reports: skipped");
    objectives.push_back({{"metric", o.metric}, {"goal", goal(o)}, {"used", use}});
  }
  if (warnings && ok.empty() && !parts.points.empty()) warnings->push_back("no point succeeded: no Pareto front");
  if (warnings && !ok.empty() && candidates.empty()) warnings->push_back("no point meets the constraints: no Pareto front");
  // Pareto front per workload: points no other point of the same workload
  // dominates (no worse in every objective, better in one).
  std::vector<int> pareto;
  auto value = [&](const nlohmann::json* p, const SweepObjective& o) {
    const double v = p->at("objectives").at(o.metric).get<double>();
    return o.maximise ? -v : v;
  };
  for (const auto* p : candidates) {
    if (used.empty()) break;
    bool dominated = false;
    for (const auto* q : candidates) {
      if (q == p || q->at("workload") != p->at("workload")) continue;
      bool no_worse = true, better = false;
      for (const auto& o : used) {
        no_worse &= value(q, o) <= value(p, o);
        better |= value(q, o) < value(p, o);
      }
      if ((dominated = no_worse && better)) break;
    }
    if (!dominated) pareto.push_back(p->at("index").get<int>());
  }
  nlohmann::json s;
  s["format"] = kFormat;
  s["attnsim_version"] = ATTNSIM_VERSION;
  s["spec"] = parts.spec;
  s["parameters"] = parts.parameters;
  s["objectives"] = objectives;
  s["counts"] = {{"points", parts.points.size()}, {"ok", ok.size()}, {"failed", parts.points.size() - ok.size()}};
  if (candidates.size() != ok.size()) s["counts"]["infeasible"] = ok.size() - candidates.size();
  s["points"] = parts.points;
  s["pareto"] = pareto;
  return s;
}

std::string summary_csv(const nlohmann::json& summary) {
  std::vector<std::string> header = {"point", "hash", "status"};
  const auto params = summary["parameters"].get<std::vector<std::string>>();
  header.insert(header.end(), params.begin(), params.end());
  header.push_back("workload");
  for (const auto& [name, path] : kMetrics) header.push_back(name);
  header.insert(header.end(), {"wall_time_s", "functional_cache_hits", "pareto", "error"});
  // A search with constraints: whether each point meets them.
  const bool constrained = !summary["points"].empty() && summary["points"][0].contains("feasible");
  if (constrained) header.push_back("feasible");
  std::vector<std::vector<std::string>> rows = {header};
  const std::set<int> front = summary["pareto"].get<std::set<int>>();
  for (const auto& p : summary["points"]) {
    std::vector<std::string> row = {cell(p["index"]), cell(p["hash"]), cell(p["status"])};
    for (const auto& path : params) row.push_back(p["params"].contains(path) ? cell(p["params"][path]) : "");
    row.push_back(cell(p["workload"]));
    for (const auto& [name, path] : kMetrics) row.push_back(cell(p["metrics"][name]));
    row.push_back(cell(p["host"]["wall_time_s"]));
    row.push_back(cell(p["host"]["functional_cache_hits"]));
    row.push_back(front.count(p["index"].get<int>()) ? "1" : "0");
    row.push_back(cell(p["error"]));
    if (constrained) row.push_back(p["feasible"].is_boolean() ? (p["feasible"].get<bool>() ? "1" : "0") : "");
    rows.push_back(std::move(row));
  }
  return format_table(rows, TableFormat::csv);
}

std::string pareto_table(const nlohmann::json& summary) {
  std::vector<std::string> header = {"point", "workload"};
  const auto params = summary["parameters"].get<std::vector<std::string>>();
  header.insert(header.end(), params.begin(), params.end());
  std::vector<std::string> used;
  for (const auto& o : summary["objectives"])
    if (o["used"].get<bool>()) {
      used.push_back(o["metric"].get<std::string>());
      header.push_back(used.back() + " (" + o["goal"].get<std::string>() + ")");
    }
  std::vector<std::vector<std::string>> rows = {header};
  for (const int i : summary["pareto"].get<std::vector<int>>()) {
    const auto& p = summary["points"][static_cast<size_t>(i)];
    std::vector<std::string> row = {std::to_string(i), cell(p["workload"])};
    for (const auto& path : params) row.push_back(p["params"].contains(path) ? cell(p["params"][path]) : "-");
    for (const auto& m : used) row.push_back(format_number(p["objectives"][m].get<double>()));
    rows.push_back(std::move(row));
  }
  return format_table(rows, TableFormat::text);
}

std::string shard_summary_name(int index, int count) {
  return "summary.shard-" + std::to_string(index) + "-of-" + std::to_string(count) + ".json";
}

SummaryParts merge_shards(const std::vector<std::string>& dirs, std::vector<std::string>* files,
                          std::vector<std::string>* point_dirs) {
  static const std::regex name("summary\\.shard-([0-9]+)-of-([0-9]+)\\.json");
  std::vector<std::pair<std::string, std::string>> found;  // (file, dir)
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw InputError(dir, "", "not a directory (--merge expects sweep output folders)");
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
      if (std::regex_match(e.path().filename().string(), name)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) found.emplace_back((fs::path(dir) / n).string(), dir);
  }
  if (found.empty())
    throw InputError(dirs.front(), "", "no shard summaries (summary.shard-I-of-N.json): run attnsim sweep --shard I/N first");
  SummaryParts parts;
  std::map<int, std::string> shards;  // index -> file
  std::map<int, std::pair<nlohmann::json, std::string>> points;  // index -> (entry, dir)
  int count = 0;
  size_t total = 0;
  for (const auto& [file, dir] : found) {
    const nlohmann::json s = JsonReader::load_file(file);
    if (!s.is_object() || s.value("format", "") != kFormat || !s.contains("shard"))
      throw InputError(file, "format", "not a shard summary of attnsim sweep");
    JsonReader shard(s["shard"], file, "shard");
    const int index = static_cast<int>(shard.integer("index", std::nullopt, 0, 1 << 20));
    const int n = static_cast<int>(shard.integer("count", std::nullopt, 1, 1 << 20));
    const auto points_total = static_cast<size_t>(shard.integer("points_total", std::nullopt, 0, INT64_MAX));
    if (files) files->push_back(file);
    if (shards.empty()) {
      parts.spec = s["spec"];
      parts.parameters = s["parameters"].get<std::vector<std::string>>();
      for (const auto& o : s["objectives"]) parts.objectives.push_back({o["metric"].get<std::string>(), o["goal"] == "max"});
      count = n;
      total = points_total;
    } else if (s["spec"] != parts.spec || n != count || points_total != total) {
      throw InputError(file, "spec", "comes from another sweep than " + shards.begin()->second +
                                         " (spec or shard count differ)");
    }
    if (!shards.emplace(index, file).second)
      throw InputError(file, "shard.index", "shard " + std::to_string(index) + " also in " + shards.at(index));
    for (const auto& p : s["points"]) points[p["index"].get<int>()] = {p, dir};
  }
  for (int i = 0; i < count; ++i)
    if (!shards.count(i))
      throw InputError(dirs.front(), "", "shard " + std::to_string(i) + " of " + std::to_string(count) +
                                             " is missing (" + shard_summary_name(i, count) + ")");
  if (points.size() != total || (total && points.rbegin()->first != static_cast<int>(total) - 1))
    throw InputError(dirs.front(), "", "the shards hold " + std::to_string(points.size()) + " points, the sweep has " +
                                           std::to_string(total));
  for (auto& [index, entry] : points) {
    parts.points.push_back(std::move(entry.first));
    if (point_dirs) point_dirs->push_back(entry.second);
  }
  return parts;
}

}  // namespace attnsim
