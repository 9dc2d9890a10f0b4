#include "report/report.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "energy/energy_model.h"
#include "util/error.h"
#include "util/json_reader.h"

namespace attnsim {

namespace {

double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

nlohmann::json period_json(const PeriodStats& p, const RunStats& run, double clock_ghz) {
  nlohmann::json j;
  j["cycles"] = p.cycles;
  j["time_us"] = static_cast<double>(p.cycles) / clock_ghz / 1e3;
  nlohmann::json units = nlohmann::json::object();
  int64_t simulated_macs = 0;
  for (const auto& [name, w] : p.units) {
    nlohmann::json u;
    u["kind"] = run.unit_kinds.count(name) ? run.unit_kinds.at(name) : name;
    u["busy_cycles"] = w.cycles;
    u["busy_fraction"] = ratio(static_cast<double>(w.cycles), static_cast<double>(p.cycles));
    u["stages"] = w.stages;
    if (!w.counts.empty()) u["counts"] = w.counts;
    if (run.unit_pes.count(name)) {
      u["pes"] = run.unit_pes.at(name);
      u["macs"] = w.macs;
      // MACs over the PE-cycles available while the array computes.
      u["mac_utilisation"] = ratio(static_cast<double>(w.macs), static_cast<double>(w.pe_slots));
      // MACs over every PE-cycle of the whole run.
      u["overall_utilisation"] =
          ratio(static_cast<double>(w.macs), static_cast<double>(p.cycles) * run.unit_pes.at(name));
    }
    // Sanger's load-balance metric: Σ(nnz / P) / sub-rows (REFERENCE.md).
    if (w.counts.count("subrows") && w.counts.count("nonzeros") && run.unit_pes.count(name) && w.counts.at("subrows"))
      u["pack_split_utilisation"] = ratio(static_cast<double>(w.counts.at("nonzeros")),
                                          static_cast<double>(w.counts.at("subrows")) * run.pes_per_row);
    simulated_macs += w.macs;
    units[name] = u;
  }
  units["dram"] = {{"busy_cycles", p.dram_busy_cycles},
                   {"busy_fraction", ratio(static_cast<double>(p.dram_busy_cycles), static_cast<double>(p.cycles))},
                   {"bytes_read", p.dram_bytes_read},
                   {"bytes_written", p.dram_bytes_written},
                   {"bursts", p.dram_bursts},
                   {"bytes_without_skipping", p.dram_bytes_dense},
                   {"bytes_saved", p.dram_bytes_dense - p.dram_bytes_read - p.dram_bytes_written}};
  j["units"] = units;
  nlohmann::json sram = nlohmann::json::object();
  for (const auto& [name, b] : p.sram)
    sram[name] = {{"capacity_bytes", b.capacity_bytes},
                  {"bytes_read", b.bytes_read},
                  {"bytes_written", b.bytes_written},
                  {"bytes_spilled", b.bytes_spilled}};
  j["sram"] = sram;
  const int64_t pe_macs = p.units.count("pe_array") ? p.units.at("pe_array").macs : 0;
  j["macs"] = {{"pe_array", pe_macs},
               {"all_units", simulated_macs},
               {"dense_attention", p.dense_macs},
               {"pe_array_vs_dense", ratio(static_cast<double>(pe_macs), static_cast<double>(p.dense_macs))}};
  j["mask"] = {{"density", p.accuracy.density()},
               {"recall", p.accuracy.recall()},
               {"kept", p.accuracy.kept},
               {"allowed", p.accuracy.allowed}};
  j["accuracy"] = {{"max_abs_error", p.accuracy.max_abs_error},
                   {"relative_error", p.accuracy.relative_error()},
                   {"compared_rows", p.accuracy.rows}};
  if (p.accuracy.sampled) {  // an estimate from every k-th row: say so, with its interval
    const double r = p.accuracy.recall(), h = p.accuracy.recall_ci95_half_width();
    j["accuracy"]["sampled"] = true;
    j["mask"]["recall_ci95"] = {std::max(0.0, r - h), std::min(1.0, r + h)};
  }
  if (!p.heads.empty()) j["heads"] = p.heads;
  return j;
}

}  // namespace

nlohmann::json make_report(const ArchConfig& arch, const WorkloadSpec& workload, const RunStats& stats,
                           const HostCost& host) {
  nlohmann::json r;
  r["attnsim_version"] = ATTNSIM_VERSION;
  r["report_version"] = 1;
  r["arch"] = arch.to_json();
  r["workload"] = workload.to_json();
  r["tiling"] = {{"query_rows", stats.query_rows}, {"kv_resident", stats.kv_resident}};
  const std::string& tech = arch.tech_table.name;
  r["total"] = period_json(stats.total, stats, arch.clock_ghz);
  r["total"]["energy"] = estimate_energy(arch, stats.total, workload.head_dim).to_json(tech);
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : stats.layers) {
    layers.push_back(period_json(l, stats, arch.clock_ghz));
    layers.back()["energy"] = estimate_energy(arch, l, workload.head_dim).to_json(tech);
  }
  r["layers"] = layers;
  r["area"] = estimate_area(arch).to_json(tech);
  const int64_t macs = r["total"]["macs"]["all_units"].get<int64_t>();
  r["simulator"] = {{"wall_time_s", host.wall_time_s},
                    {"peak_rss_mib", host.peak_rss_mib},
                    {"simulated_macs_per_host_s", ratio(static_cast<double>(macs), host.wall_time_s)},
                    {"functional_cache_hits", host.functional_cache_hits},
                    {"structured_tiles", host.structured_tiles},
                    {"threads", host.threads}};
  return r;
}

nlohmann::json without_host_fields(nlohmann::json report) {
  report.erase("simulator");
  return report;
}

bool is_attnsim_report(const std::string& path) {
  try {
    const nlohmann::json j = JsonReader::load_file(path);
    return j.is_object() && j.contains("attnsim_version") && j.contains("report_version");
  } catch (const InputError&) {
    return false;
  }
}

void write_json_atomic(const std::string& path, const nlohmann::json& j) { write_text_atomic(path, j.dump(2) + "\n"); }

void write_text_atomic(const std::string& path, const std::string& text) {
  // One temporary name per process: concurrent writers of the same file (sweep
  // points run twice) never mix their bytes; the last rename wins whole.
  const std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp);
    if (!out) throw InputError(path, "", "cannot create file");
    out << text;
    out.close();  // a full disk shows at the last flush: check after it, never rename a short file
    if (!out) {
      std::remove(tmp.c_str());
      throw InputError(path, "", "write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw InputError(path, "", "cannot move the file into place: " + ec.message());
  }
}

double peak_rss_mib() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace attnsim
