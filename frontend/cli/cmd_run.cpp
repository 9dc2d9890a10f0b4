#include <chrono>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "config/arch_config.h"
#include "run/simulation.h"
#include "dse/run_estimate.h"
#include "report/dump.h"
#include "report/gpu_timing.h"
#include "report/report.h"
#include "util/json_reader.h"
#include "util/output_paths.h"
#include "workload/workload.h"

namespace attnsim {

namespace {

// What tells this run apart from the preset's: "sanger-64x16 [pe_array.rows=32]".
std::string run_name(const std::string& arch_name, const std::vector<std::string>& sets, const std::string& given) {
  if (!given.empty()) return given;
  std::string name = arch_name;
  for (size_t i = 0; i < sets.size(); ++i) name += (i ? ", " : " [") + sets[i] + (i + 1 == sets.size() ? "]" : "");
  return name;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  po::options_description desc("attnsim run options");
  std::string arch_file, workload_file, out, dump, name;
  std::vector<std::string> sets;
  desc.add_options()
      ("help,h", "print this help")
      ("arch,a", po::value(&arch_file)->required(), "architecture JSON (configs/arch/*.json)")
      ("workload,w", po::value(&workload_file)->required(), "workload JSON (workloads/*.json)")
      ("out,o", po::value(&out)->required(), "report JSON to write (written atomically, only on success)")
      ("dump", po::value(&dump), "directory for the inputs and every intermediate tensor as .npy + meta.json")
      ("gpu-timing", po::value<std::string>(),
       "attach a measured GPU time: a gpu_ref meta.json or gpu_ref/timings/*.json -> the report's \"gpu\" object")
      ("layers", po::value<int>(), "simulate only the first N layers of the workload")
      ("accuracy-rows", po::value<int>()->default_value(0),
       "compare only N evenly spaced rows per head with dense attention (0: all rows; for long sequences)")
      ("threads,j", po::value<int>(),
       "threads preparing heads ahead of the timing (their Q/K/V, the mask unit's estimation, the accuracy "
       "reference); default: the CPUs this process may use. The report does not depend on it")
      ("mask-form", po::value<std::string>()->default_value("auto"),
       "auto: tiles' masks as their structure where the units and the pattern allow (a 128k-token head's masks "
       "are too large to list; the numbers are the same); enumerated: always as CSR (to check that)")
      ("functional-cache", po::value<std::string>(),
       "reuse masks and accuracy counters across runs whose values cannot differ (sweeps); DIR is created")
      ("set", po::value(&sets)->composing(), "override an arch parameter: PATH=VALUE, e.g. --set pe_array.rows=32 (repeatable)")
      ("name", po::value(&name),
       "the run's name in the report (run.name) and in compare's columns; default: the arch's name, followed by "
       "the --set overrides in brackets")
      ("allow-large", "run even when the up-front estimate exceeds this machine's memory, a day of CPU time or the "
                      "free disk space for --dump")
      ("quiet,q", "no progress bar and no summary");
  po::variables_map vm;
  if (!parse_options(argc, argv, "usage: attnsim run --arch A.json --workload W.json --out report.json [--dump DIR]",
                     desc, nullptr, vm))
    return 0;
  const bool quiet = vm.count("quiet") > 0;
  if (vm.count("dump") && dump.empty()) throw InputError("", "--dump", "expected a path, got an empty string");
  dump = without_trailing_separator(dump);  // "d/": the folder d

  nlohmann::json arch_json = JsonReader::load_file(arch_file);
  for (const auto& s : sets) apply_arch_override(arch_json, s, arch_file);
  const ArchConfig arch = ArchConfig::from_json(arch_json, arch_file);
  WorkloadSpec workload = WorkloadSpec::load(workload_file);
  if (vm.count("layers")) {
    const int n = vm["layers"].as<int>();
    if (n < 1) throw InputError("", "--layers", "expected a positive number of layers, got " + std::to_string(n));
    if (n > workload.layers)
      throw InputError(workload_file, "--layers", std::to_string(n) + " layers asked for, but the workload has only " +
                                                      std::to_string(workload.layers));
    workload.layers_to_simulate = n;
  }
  if (!vm.count("allow-large"))
    check_run_estimate(estimate_run(arch, workload, !dump.empty(), vm["accuracy-rows"].as<int>()), workload, dump,
                       "--allow-large");
  nlohmann::json gpu_timing;
  if (vm.count("gpu-timing")) {
    const std::string file = vm["gpu-timing"].as<std::string>();
    const GpuTiming t = read_gpu_timing(file);
    check_gpu_timing(t, file, dump_meta(arch, workload)["algorithm"].get<std::string>(), workload);
    gpu_timing = t.report;
  }
  const auto out_dir = std::filesystem::path(out).parent_path();
  if (!out_dir.empty() && !std::filesystem::is_directory(out_dir))
    throw InputError(out, "--out", "directory " + out_dir.string() + " does not exist");
  // Outputs replace only what attnsim made, and never an input.
  std::vector<std::string> inputs = {arch_file, workload_file, workload.q_path, workload.k_path, workload.v_path};
  for (const auto& f : arch.input_files()) inputs.push_back(f);
  if (vm.count("gpu-timing")) inputs.push_back(vm["gpu-timing"].as<std::string>());
  check_output_file(out, "--out", inputs, is_attnsim_report, "an attnsim report");
  if (!dump.empty()) {
    check_output_folder(dump, "--dump", inputs, is_attnsim_dump, "an attnsim dump");
    if (path_within(out, dump)) throw InputError(out, "--out", "lies inside the --dump folder " + dump + ", which a dump replaces");
  }

  const auto start = std::chrono::steady_clock::now();
  ProgressBar bar("simulating " + arch.name + " on " + workload.name, quiet);
  SimulationOptions options;
  options.dump_dir = dump;
  options.accuracy_rows = vm["accuracy-rows"].as<int>();
  if (options.accuracy_rows < 0) throw InputError("", "--accuracy-rows", "expected 0 or a positive number of rows");
  options.threads = vm.count("threads") ? vm["threads"].as<int>() : available_threads();
  if (options.threads < 1 || options.threads > 1024)
    throw InputError("", "--threads", "expected 1 to 1024 threads, got " + std::to_string(options.threads));
  const std::string mask_form = vm["mask-form"].as<std::string>();
  if (mask_form != "auto" && mask_form != "enumerated")
    throw InputError("", "--mask-form", "expected auto or enumerated, got '" + mask_form + "'");
  options.structured_masks = mask_form == "auto";
  if (vm.count("functional-cache")) options.functional_cache_dir = vm["functional-cache"].as<std::string>();
  options.progress = [&bar](int done, int total) { bar.update(done, total); };
  RunStats stats;
  SimulationInfo info;
  try {
    stats = simulate(arch, workload, options, &info);
  } catch (const InputError& e) {
    // Errors from inside the run name the arch file where they lack one.
    const std::string msg = e.what();
    if (msg.rfind("<input>", 0) == 0) throw InputError(arch_file, "", msg.substr(9));
    throw;
  }
  for (const auto& d : info.cache_damaged)  // not silenced by --quiet: the user should know
    std::cerr << "attnsim run: warning: damaged functional-cache entry " << d << "; recomputed\n";
  HostCost host;
  host.wall_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  host.peak_rss_mib = peak_rss_mib();
  host.functional_cache_hits = info.cache_hits;
  host.structured_tiles = info.structured_tiles;
  host.threads = options.threads;
  nlohmann::json report = make_report(arch, workload, stats, host);
  if (!gpu_timing.is_null()) report["gpu"] = gpu_timing;
  report["run"] = {{"name", run_name(arch.name, sets, name)}, {"overrides", sets}};
  write_json_atomic(out, report);
  bar.finish();
  if (!quiet) {
    const auto& t = report["total"];
    std::cout << arch.name << " on " << workload.name << ": " << t["cycles"].get<int64_t>() << " cycles ("
              << t["time_us"].get<double>() << " us), mask density " << t["mask"]["density"].get<double>()
              << ", recall " << t["mask"]["recall"].get<double>() << ", output rel. error "
              << t["accuracy"]["relative_error"].get<double>() << "; report: " << out << "\n";
  }
  return 0;
}

}  // namespace attnsim
