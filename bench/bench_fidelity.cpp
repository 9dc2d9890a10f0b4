// The same work through both fidelities (docs/fidelity.md): the loosely-timed
// units (ScoreStationaryArray, SystolicArray: latency formula + functional
// kernel, one b_transport per job) against the clocked register-level
// references (ScoreStationaryArrayCycle, SystolicArrayCycle), on the presets'
// arrays (configs/arch/sanger.json: 64 rows x 16 PEs, segments of 64, fixed16.8;
// configs/arch/dense_systolic.json: 32 x 32) and a BERT-base-shaped synthetic
// head (64-query tiles, head dim 64). Sanger's masks come from its predictor
// (4 bits, threshold 0.002), the systolic array's are dense.
//
//   build/bench/bench_fidelity [--seq N] [--tiles N] [Google Benchmark flags]
//
// Each benchmark sends the tiles once per iteration through b_transport from
// an SC_THREAD (Google Benchmark runs inside the simulation); counters give
// simulated cycles per host second. A summary prints the speed ratio
// fast / cycle-accurate, for the whole unit (values and timing) and for the
// fast model's timing path alone (the formula without the functional kernel).
// SpAtten's top-k engine: topk_quickselect() against the clocked
// TopKEngineCycle on BERT-base token pruning (importance of 512 tokens, keep
// 256, P = 16), 32 score vectors.
#include <benchmark/benchmark.h>
#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/pack_split.h"
#include "kernels/sanger_predict.h"
#include "sanger/sanger_timing.h"
#include "sanger/score_stationary_array.h"
#include "sanger/score_stationary_cycle.h"
#include "spatten/topk_engine_cycle.h"
#include "systolic/systolic_array.h"
#include "systolic/systolic_cycle.h"
#include "systolic/systolic_timing.h"
#include "workload/synthetic.h"

using namespace attnsim;

namespace {

int g_seq = 512, g_tiles = 4, g_dim = 64;

struct Tile {
  MatF q;
  CsrMask mask;
  PackSplitSchedule schedule;
};

struct Workload {
  ScoreStationaryConfig ss;  // the sanger workload's array
  SystolicConfig os;         // the dense workload's array
  int width = 64;
  AttentionNumerics num;
  HeadOperands kv;
  std::vector<Tile> tiles;
  Cycles cycles = 0;  // simulated cycles of all tiles (the fast formula's)
};

Workload g_sanger, g_dense;

// configs/arch/sanger.json's array and numbers.
void sanger_config(Workload& w, double scale) {
  w.ss.rows = 64;
  w.ss.pes_per_row = 16;
  w.num = {NumberFormat::parse("fixed16.8"), NumberFormat::parse("fixed16.14"), ExpUnit::parse("pwl6"), scale};
}

// configs/arch/dense_systolic.json's.
void dense_config(Workload& w, double scale) {
  w.os.rows = w.os.cols = 32;
  w.num = {NumberFormat::parse("fixed16.8"), NumberFormat::parse("fixed16.14"), ExpUnit::parse("exact"), scale};
}

void build_workloads() {
  MatF q, k, v;
  generate_head(SyntheticParams{}, g_seq, g_dim, 0, 0, 0, q, k, v);
  const double scale = 1.0 / std::sqrt(static_cast<double>(g_dim));
  PredictorParams pp;
  pp.scale = scale;
  const HeadQuant hq = quantize_head(q, k, 4);
  for (Workload* w : {&g_sanger, &g_dense}) {
    const bool sanger = w == &g_sanger;
    if (sanger) sanger_config(*w, scale);
    else dense_config(*w, scale);
    w->kv = prepare_operands(k, v, w->num.data);
    for (int t = 0; t < g_tiles && (t + 1) * 64 <= g_seq; ++t) {
      Tile tile;
      tile.q = q.middleRows(t * 64, 64);
      tile.mask = sanger ? predict_tile(hq, t * 64, 64, pp).mask : CsrMask::full(64, g_seq, false, t * 64);
      tile.schedule = pack_split(tile.mask, w->width, w->ss.pes_per_row);
      w->cycles += sanger ? score_stationary_tile(tile.schedule, 64, g_dim, w->ss).cycles
                          : systolic_attention(tile.mask, g_dim, w->os, w->num.data.bytes()).cycles;
      w->tiles.push_back(std::move(tile));
    }
  }
}

struct Driver;
Driver* g_driver = nullptr;

// Host seconds per pass over a workload, by benchmark name (the last run's).
std::map<std::string, double> g_seconds;

// SpAtten's top-k work: importance-like scores (positive, heavy-tailed, with
// repeats), seeded.
struct TopKWork {
  std::vector<std::vector<double>> scores;
  int k = 256, parallelism = 16;
  Cycles cycles = 0;  // of the whole set, fast model
};
TopKWork g_topk;
TopKEngineCycle* g_topk_engine = nullptr;

void build_topk_work() {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-4, 4);
  for (int v = 0; v < 32; ++v) {
    std::vector<double> s(512);
    for (double& x : s) x = rng() % 5 == 0 ? 1.0 : std::exp(u(rng));
    g_topk.cycles += topk_quickselect(s, g_topk.k, g_topk.parallelism).cycles;
    g_topk.scores.push_back(std::move(s));
  }
}

struct Driver : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Driver> ss_fast, ss_cycle, os_fast, os_cycle;
  SC_HAS_PROCESS(Driver);
  explicit Driver(sc_core::sc_module_name n)
      : sc_module(n), ss_fast("ss_fast"), ss_cycle("ss_cycle"), os_fast("os_fast"), os_cycle("os_cycle") {
    SC_THREAD(main);
    set_stack_size(256 << 20);  // Google Benchmark and Eigen run in this thread
  }
  void main();
};

// Sends every tile of a workload once through a unit; returns simulated cycles.
// The numerics are those of `attnsim run` (no per-entry probabilities unless
// a dump or SpAtten reads them). `timing_only`: the values are known (a sweep
// point whose masks and values come from the functional cache).
template <class Socket>
Cycles send_all(Socket& socket, Workload& w, bool timing_only = false) {
  Cycles cycles = 0;
  for (Tile& t : w.tiles) {
    ComputeJob job;
    job.q_tile = &t.q;
    job.kv = &w.kv;
    job.mask = &t.mask;
    job.schedule = &t.schedule;
    job.numerics = w.num;
    job.numerics.probabilities = false;
    job.timing_only = timing_only;
    send_job(socket, job);
    cycles += job.work.cycles;
  }
  return cycles;
}

enum class Path { fast_unit, fast_unit_timing_only, cycle_unit, formula_only };

// Process CPU time: SystemC runs every process in this one OS thread, and CPU
// time is steadier than wall time on a shared 2-core machine.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void bench(benchmark::State& state, const char* name, Workload* w, Path path) {
  const bool sanger = w == &g_sanger;
  Cycles cycles = 0;
  int64_t passes = 0;
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    Cycles c = 0;
    switch (path) {
      case Path::fast_unit: c = send_all(sanger ? g_driver->ss_fast : g_driver->os_fast, *w); break;
      case Path::fast_unit_timing_only:
        c = send_all(sanger ? g_driver->ss_fast : g_driver->os_fast, *w, true);
        break;
      case Path::cycle_unit: c = send_all(sanger ? g_driver->ss_cycle : g_driver->os_cycle, *w); break;
      case Path::formula_only:
        for (const Tile& t : w->tiles)
          c += sanger ? score_stationary_tile(t.schedule, t.mask.rows, g_dim, w->ss).cycles
                      : systolic_attention(t.mask, g_dim, w->os, w->num.data.bytes()).cycles;
        break;
    }
    benchmark::DoNotOptimize(c);
    if (c != w->cycles) state.SkipWithError("cycle counts differ between fidelities");
    cycles += c;
    ++passes;
  }
  const double s = cpu_seconds() - t0;
  g_seconds[name] = s / static_cast<double>(passes);
  state.counters["sim_cycles_per_s"] = benchmark::Counter(static_cast<double>(cycles), benchmark::Counter::kIsRate);
  state.counters["tiles_per_s"] =
      benchmark::Counter(static_cast<double>(passes * w->tiles.size()), benchmark::Counter::kIsRate);
}

void bench_topk(benchmark::State& state, const char* name, bool cycle) {
  Cycles cycles = 0;
  int64_t passes = 0;
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    Cycles c = 0;
    for (const auto& s : g_topk.scores)
      c += cycle ? g_topk_engine->select(s, g_topk.k).cycles : topk_quickselect(s, g_topk.k, g_topk.parallelism).cycles;
    benchmark::DoNotOptimize(c);
    if (c != g_topk.cycles) state.SkipWithError("cycle counts differ between fidelities");
    cycles += c;
    ++passes;
  }
  g_seconds[name] = (cpu_seconds() - t0) / static_cast<double>(passes);
  state.counters["sim_cycles_per_s"] = benchmark::Counter(static_cast<double>(cycles), benchmark::Counter::kIsRate);
}

bool verify_topk() {
  bool same = true;
  for (const auto& s : g_topk.scores) {
    const TopK a = topk_quickselect(s, g_topk.k, g_topk.parallelism), b = g_topk_engine->select(s, g_topk.k);
    same = same && a.indices == b.indices && a.cycles == b.cycles && a.rounds == b.rounds;
  }
  std::printf("top-k    %zu score vectors of 512, k %d, P %d: indices, rounds and cycles %s\n", g_topk.scores.size(),
              g_topk.k, g_topk.parallelism, same ? "identical in both fidelities" : "DIFFER between fidelities");
  return same;
}

// Before timing: every tile through both fidelities, the same cycles and
// the same values bit for bit (fixed point).
template <class Socket>
bool verify(Socket& fast, Socket& cycle, Workload& w, const char* unit) {
  int64_t nnz = 0, cells = 0;
  bool same = true;
  for (Tile& t : w.tiles) {
    ComputeJob a, b;
    for (ComputeJob* j : {&a, &b}) {
      j->q_tile = &t.q;
      j->kv = &w.kv;
      j->mask = &t.mask;
      j->schedule = &t.schedule;
      j->numerics = w.num;
    }
    send_job(fast, a);
    send_job(cycle, b);
    same = same && a.work.cycles == b.work.cycles && a.work.stages == b.work.stages &&
           a.result.output == b.result.output && a.result.scores == b.result.scores && a.result.probs == b.result.probs;
    nnz += t.mask.nnz();
    cells += static_cast<int64_t>(t.mask.rows) * t.mask.cols;
  }
  std::printf("%-8s %zu tiles, mask density %.3f: cycles, stages, scores, probabilities and outputs %s\n", unit,
              w.tiles.size(), cells ? static_cast<double>(nnz) / cells : 0.0,
              same ? "identical in both fidelities" : "DIFFER between fidelities");
  return same;
}

void Driver::main() {
  const bool ok = verify(ss_fast, ss_cycle, g_sanger, "sanger") & verify(os_fast, os_cycle, g_dense, "systolic") &
                  verify_topk();
  if (!ok) std::exit(1);
  benchmark::RegisterBenchmark("sanger/fast_unit", bench, "sanger/fast_unit", &g_sanger, Path::fast_unit)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("sanger/fast_unit_timing_only", bench, "sanger/fast_unit_timing_only", &g_sanger,
                               Path::fast_unit_timing_only)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("sanger/cycle_unit", bench, "sanger/cycle_unit", &g_sanger, Path::cycle_unit)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("sanger/formula_only", bench, "sanger/formula_only", &g_sanger, Path::formula_only)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("systolic/fast_unit", bench, "systolic/fast_unit", &g_dense, Path::fast_unit)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("systolic/fast_unit_timing_only", bench, "systolic/fast_unit_timing_only", &g_dense,
                               Path::fast_unit_timing_only)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("systolic/cycle_unit", bench, "systolic/cycle_unit", &g_dense, Path::cycle_unit)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("systolic/formula_only", bench, "systolic/formula_only", &g_dense, Path::formula_only)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("topk/fast", bench_topk, "topk/fast", false)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("topk/cycle", bench_topk, "topk/cycle", true)->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();

  std::printf("\nSpeed of the same work (%zu tiles of 64 queries x %d keys, d = %d), host CPU time per pass:\n",
              g_sanger.tiles.size(), g_seq, g_dim);
  for (const char* unit : {"sanger", "systolic"}) {
    const Workload& w = std::strcmp(unit, "sanger") == 0 ? g_sanger : g_dense;
    const auto get = [&](const char* path) {
      const auto it = g_seconds.find(std::string(unit) + "/" + path);
      return it == g_seconds.end() ? 0.0 : it->second;
    };
    const double fast = get("fast_unit"), cyc = get("cycle_unit"), formula = get("formula_only"),
                 timing = get("fast_unit_timing_only");
    if (fast <= 0 || cyc <= 0) continue;
    std::printf("  %-8s %9lld simulated cycles | fast unit %9.3f ms (%8.3g cycles/s) | cycle-accurate %9.1f ms "
                "(%8.3g cycles/s) | fast/cycle %7.0fx",
                unit, static_cast<long long>(w.cycles), fast * 1e3, w.cycles / fast, cyc * 1e3, w.cycles / cyc,
                cyc / fast);
    if (timing > 0) std::printf(" | fast unit, values reused %8.4f ms, %9.0fx", timing * 1e3, cyc / timing);
    if (formula > 0) std::printf(" | formula only %8.4f ms, %9.0fx", formula * 1e3, cyc / formula);
    std::printf("\n");
  }
  const double tf = g_seconds.count("topk/fast") ? g_seconds["topk/fast"] : 0,
               tc = g_seconds.count("topk/cycle") ? g_seconds["topk/cycle"] : 0;
  if (tf > 0 && tc > 0)
    std::printf("  top-k    %9lld simulated cycles | fast model %8.4f ms (%8.3g cycles/s) | cycle-accurate %9.2f ms "
                "(%8.3g cycles/s) | fast/cycle %7.0fx\n",
                static_cast<long long>(g_topk.cycles), tf * 1e3, g_topk.cycles / tf, tc * 1e3, g_topk.cycles / tc,
                tc / tf);
  sc_core::sc_stop();
}

}  // namespace

int sc_main(int argc, char** argv) {
  sc_core::sc_report_handler::set_actions(sc_core::SC_ERROR, sc_core::SC_THROW);
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  // Our flags, then Google Benchmark's.
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seq") && i + 1 < argc) {
      g_seq = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--tiles") && i + 1 < argc) {
      g_tiles = std::atoi(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  build_workloads();
  build_topk_work();

  ScoreStationaryArray ss_fast("ss_fast", g_sanger.ss, g_sanger.width, 1.0);
  ScoreStationaryArrayCycle ss_cycle("ss_cycle", g_sanger.ss, g_sanger.width, 1.0);
  SystolicArray os_fast("os_fast", g_dense.os, 1.0);
  SystolicArrayCycle os_cycle("os_cycle", g_dense.os, 1.0);
  TopKEngineCycle topk_engine("topk_engine", g_topk.parallelism, 1.0);
  g_topk_engine = &topk_engine;
  Driver driver("driver");
  g_driver = &driver;
  driver.ss_fast.bind(ss_fast.socket);
  driver.ss_cycle.bind(ss_cycle.socket);
  driver.os_fast.bind(os_fast.socket);
  driver.os_cycle.bind(os_cycle.socket);
  sc_core::sc_start();
  benchmark::Shutdown();
  return 0;
}

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  return sc_core::sc_elab_and_sim(argc, argv);
}
