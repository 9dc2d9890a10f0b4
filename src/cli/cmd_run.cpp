#include <chrono>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "config/arch_config.h"
#include "controller/simulation.h"
#include "report/report.h"
#include "util/json_reader.h"
#include "workload/workload.h"

namespace attnsim {

namespace {

// Applies --set PATH=VALUE to the arch JSON (VALUE parsed as JSON, else a string).
void apply_override(nlohmann::json& arch, const std::string& assignment, const std::string& file) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(file, "--set " + assignment, "expected PATH=VALUE, e.g. pe_array.rows=32");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error&) {
    value = text;
  }
  std::string pointer;
  for (size_t a = 0; a <= path.size();) {
    const size_t b = std::min(path.find('.', a), path.size());
    pointer += "/" + path.substr(a, b - a);
    a = b + 1;
  }
  arch[nlohmann::json::json_pointer(pointer)] = value;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  po::options_description desc("attnsim run options");
  std::string arch_file, workload_file, out, dump;
  std::vector<std::string> sets;
  desc.add_options()
      ("help,h", "print this help")
      ("arch,a", po::value(&arch_file)->required(), "architecture JSON (configs/arch/*.json)")
      ("workload,w", po::value(&workload_file)->required(), "workload JSON (workloads/*.json)")
      ("out,o", po::value(&out)->required(), "report JSON to write (written atomically, only on success)")
      ("dump", po::value(&dump), "directory for the inputs and every intermediate tensor as .npy + meta.json")
      ("layers", po::value<int>(), "simulate only the first N layers of the workload")
      ("set", po::value(&sets)->composing(), "override an arch parameter: PATH=VALUE, e.g. --set pe_array.rows=32 (repeatable)")
      ("quiet,q", "no progress bar and no summary");
  po::variables_map vm;
  if (!parse_options(argc, argv, "usage: attnsim run --arch A.json --workload W.json --out report.json [--dump DIR]",
                     desc, nullptr, vm))
    return 0;
  const bool quiet = vm.count("quiet") > 0;

  nlohmann::json arch_json = JsonReader::load_file(arch_file);
  for (const auto& s : sets) apply_override(arch_json, s, arch_file);
  const ArchConfig arch = ArchConfig::from_json(arch_json, arch_file);
  WorkloadSpec workload = WorkloadSpec::load(workload_file);
  if (vm.count("layers")) {
    const int n = vm["layers"].as<int>();
    if (n < 1) throw InputError("", "--layers", "expected a positive number of layers, got " + std::to_string(n));
    workload.layers_to_simulate = n;
  }
  const auto out_dir = std::filesystem::path(out).parent_path();
  if (!out_dir.empty() && !std::filesystem::is_directory(out_dir))
    throw InputError(out, "--out", "directory " + out_dir.string() + " does not exist");

  const auto start = std::chrono::steady_clock::now();
  ProgressBar bar("simulating " + arch.name + " on " + workload.name, quiet);
  SimulationOptions options;
  options.dump_dir = dump;
  options.progress = [&bar](int done, int total) { bar.update(done, total); };
  RunStats stats;
  try {
    stats = simulate(arch, workload, options);
  } catch (const InputError& e) {
    // Errors from inside the run name the arch file where they lack one.
    const std::string msg = e.what();
    if (msg.rfind("<input>", 0) == 0) throw InputError(arch_file, "", msg.substr(9));
    throw;
  }
  HostCost host;
  host.wall_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  host.peak_rss_mib = peak_rss_mib();
  const nlohmann::json report = make_report(arch, workload, stats, host);
  write_json_atomic(out, report);
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
