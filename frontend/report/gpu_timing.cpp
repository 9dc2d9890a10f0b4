#include "report/gpu_timing.h"

#include <cmath>
#include <filesystem>

#include "util/error.h"
#include "util/json_reader.h"

namespace attnsim {

namespace {

const char* kExpected =
    " (--gpu-timing expects a gpu_ref meta.json or {\"gpu\", \"time_us\", \"path\", \"layers\", \"heads\", "
    "\"seq_len\", \"head_dim\"} with optional \"workload\", \"batch\", \"what\")";

// gpu_ref's names for a run's algorithm ("sanger+fused", path "fused_dense")
// -> the algorithm attnsim's dump names it by.
std::string attnsim_algorithm(std::string a) {
  const std::string fused_suffix = "+fused", fused_prefix = "fused_";
  if (a.size() > fused_suffix.size() && a.compare(a.size() - fused_suffix.size(), fused_suffix.size(), fused_suffix) == 0)
    a.erase(a.size() - fused_suffix.size());
  if (a.rfind(fused_prefix, 0) == 0) a.erase(0, fused_prefix.size());
  return a;
}

}  // namespace

GpuTiming read_gpu_timing(const std::string& file) {
  const nlohmann::json j = JsonReader::load_file(file);
  auto fail = [&](const std::string& where, const std::string& what) { throw InputError(file, where, what + kExpected); };
  if (!j.is_object()) fail("", "expected a JSON object");
  auto str = [&](const nlohmann::json& o, const char* ptr, const std::string& where) -> std::string {
    const auto p = nlohmann::json::json_pointer(ptr);
    if (!o.contains(p) || !o.at(p).is_string()) fail(where, "missing or not a string");
    return o.at(p).get<std::string>();
  };
  auto num = [&](const nlohmann::json& o, const char* ptr, const std::string& where) -> double {
    const auto p = nlohmann::json::json_pointer(ptr);
    if (!o.contains(p) || !o.at(p).is_number()) fail(where, "missing or not a number");
    return o.at(p).get<double>();
  };
  // Counts of the timed run; batch may be absent from the small JSON (then not checked).
  auto count = [&](const nlohmann::json& o, const char* key, const std::string& where, bool required) -> int64_t {
    if (!o.contains(key)) {
      if (required) fail(where, "missing");
      return 0;
    }
    if (!o[key].is_number_integer() || o[key].get<int64_t>() < 1) fail(where, "expected a positive integer");
    return o[key].get<int64_t>();
  };
  GpuTiming t;
  nlohmann::json& g = t.report;
  if (j.value("format", nlohmann::json()) == "attnsim-gpu") {
    if (!j.contains("dump_meta") || !j["dump_meta"].is_object()) fail("dump_meta", "missing or not an object");
    const nlohmann::json& m = j["dump_meta"];
    g["name"] = str(j, "/gpu/name", "gpu.name");
    g["time_us"] = num(j, "/timings_ms/total/median", "timings_ms.total.median") * 1000.0;
    t.algorithm = attnsim_algorithm(str(j, "/algorithm", "algorithm"));
    g["source"] = file + ": gpu_ref " + str(j, "/algorithm", "algorithm") + ", timings_ms.total.median";
    t.workload = str(m, "/workload/name", "dump_meta.workload.name");
    t.workload_is_name = true;
    t.layers = count(m, "layers", "dump_meta.layers", true);
    t.heads = count(m, "heads", "dump_meta.heads", true);
    t.batch = count(m, "batch", "dump_meta.batch", true);
    t.seq_len = count(m, "seq_len", "dump_meta.seq_len", true);
    t.head_dim = count(m, "head_dim", "dump_meta.head_dim", true);
  } else {
    g["name"] = str(j, "/gpu", "gpu");
    g["time_us"] = num(j, "/time_us", "time_us");
    g["source"] = file + (j.contains("what") && j["what"].is_string() ? ": " + j["what"].get<std::string>() : "");
    // What it timed must be said, so that it can be checked against the run.
    t.algorithm = attnsim_algorithm(str(j, "/path", "path"));
    if (j.contains("workload")) t.workload = std::filesystem::path(str(j, "/workload", "workload")).stem().string();
    t.layers = count(j, "layers", "layers", true);
    t.heads = count(j, "heads", "heads", true);
    t.batch = count(j, "batch", "batch", false);
    t.seq_len = count(j, "seq_len", "seq_len", true);
    t.head_dim = count(j, "head_dim", "head_dim", true);
  }
  const double us = g["time_us"].get<double>();
  if (!(us > 0) || !std::isfinite(us)) fail("time_us", "must be a positive finite number");
  return t;
}

void check_gpu_timing(const GpuTiming& t, const std::string& file, const std::string& algorithm,
                      const WorkloadSpec& workload) {
  auto mismatch = [&](const std::string& field, const std::string& timing, const std::string& run) {
    throw InputError(file, field,
                     "the GPU timing is for " + timing + " but this run simulates " + run +
                         " (--gpu-timing must describe the same workload, shapes and algorithm)");
  };
  if (!t.algorithm.empty() && t.algorithm != algorithm) mismatch(t.workload_is_name ? "algorithm" : "path", t.algorithm, algorithm);
  if (!t.workload.empty()) {
    const std::string run = t.workload_is_name ? workload.name : std::filesystem::path(workload.file).stem().string();
    if (t.workload != run) mismatch(t.workload_is_name ? "dump_meta.workload.name" : "workload", t.workload, run);
  }
  const std::string prefix = t.workload_is_name ? "dump_meta." : "";
  auto same = [&](const char* field, int64_t timing, int64_t run) {
    if (timing && timing != run)
      mismatch(prefix + field, std::string(field) + " " + std::to_string(timing), std::string(field) + " " + std::to_string(run));
  };
  same("layers", t.layers, workload.simulated_layers());
  same("heads", t.heads, workload.heads);
  same("batch", t.batch, workload.batch);
  same("seq_len", t.seq_len, workload.seq_len);
  same("head_dim", t.head_dim, workload.head_dim);
}

}  // namespace attnsim
