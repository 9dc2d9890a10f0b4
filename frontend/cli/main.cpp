// attnsim: a SystemC/TLM-2.0 simulator for sparse-attention accelerators.
// Exit codes: 0 success, 2 bad input (one line naming file and field), 1 other failure.
#include <malloc.h>
#include <systemc>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "util/error.h"

namespace {

const char* kUsage =
    "attnsim " ATTNSIM_VERSION " — simulator of sparse-attention accelerators\n"
    "\n"
    "usage: attnsim <command> [options]   (attnsim <command> --help for its options)\n"
    "       attnsim --version             print the version\n"
    "       attnsim --help                print this help\n"
    "\n"
    "commands:\n"
    "  run       simulate one architecture on one workload -> JSON report\n"
    "  sweep     run a grid/zip/list/random sweep of arch parameters -> reports, summary, Pareto front\n"
    "  search    multi-objective search of a design space (Optuna) -> the same outputs as a sweep\n"
    "  compare   reports side by side (terminal table, Markdown or CSV)\n"
    "  report    one self-contained HTML page of a sweep or search (table, Pareto front, plots)\n"
    "  validate  a run's dumped tensors against the GPU reference's (gpu_ref/)\n";

}  // namespace

// libsystemc prints its banner before sc_main unless this variable is set, so
// attnsim has its own main that sets it and then enters SystemC.
int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  // Long-context heads allocate and free tensors of hundreds of MB per head:
  // keep them in the heap for reuse rather than mapping fresh (zeroed) pages
  // from the kernel every time (over a quarter of a 128k run's CPU time otherwise).
  // One arena: the pool's threads would otherwise get theirs, which map every
  // block over 64 MB afresh (measured: 22.6 s of system time against 2.4 s
  // for a 128k layer on 2 threads).
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (!getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 1);  // glibc's own variable still decides when set
  return sc_core::sc_elab_and_sim(argc, argv);
}

int sc_main(int argc, char** argv) {
  sc_core::sc_report_handler::set_actions(sc_core::SC_ERROR, sc_core::SC_THROW);
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "attnsim " ATTNSIM_VERSION "\n";
    return 0;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "run") return attnsim::cmd_run(argc - 1, argv + 1);
    if (cmd == "sweep") return attnsim::cmd_sweep(argc - 1, argv + 1);
    if (cmd == "compare") return attnsim::cmd_compare(argc - 1, argv + 1);
    if (cmd == "validate") return attnsim::cmd_validate(argc - 1, argv + 1);
    if (cmd == "report") return attnsim::run_python_tool("report", "plots/sweep_report.py", argc - 1, argv + 1);
    if (cmd == "search") return attnsim::run_python_tool("search", "search/search.py", argc - 1, argv + 1);
    std::cerr << "attnsim: unknown command '" << cmd << "'\n" << kUsage;
    return 2;
  } catch (const attnsim::InputError& e) {
    std::cerr << "attnsim " << cmd << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "attnsim " << cmd << ": internal error: " << e.what() << "\n";
    return 1;
  }
}
