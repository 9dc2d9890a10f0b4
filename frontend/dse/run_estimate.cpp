#include "dse/run_estimate.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "controller/controller.h"
#include "util/error.h"

namespace attnsim {

RunEstimate estimate_run(const ArchConfig& arch, const WorkloadSpec& w, bool dump, int accuracy_rows) {
  // Own model. Doubles throughout: the products overflow int64 for the sizes this guards against.
  const double S = w.seq_len, D = w.head_dim, H = w.heads, B = w.batch, L = w.simulated_layers();
  const double pairs = w.causal ? S * (S + 1) / 2 : S * S;  // query-key pairs of a head
  const double heads = B * L * H;
  const double tile_rows = arch.query_tile_rows(w.seq_len, w.head_dim);
  const bool prediction = arch.mask_unit.unit->caps.dumps_dense_prediction;
  RunEstimate e;
  e.macs = heads * pairs * D * 2;  // Q·Kᵀ and P·V of every pair
  if (!dump && accuracy_rows > 0 && accuracy_rows < w.seq_len && takes_structured_masks(arch, w.causal)) {
    // Structured masks and sampled values: per head, the generator's
    // rotation (S D²), the dense reference and values of the sampled rows
    // (2 · rows · S · D) and the pattern estimation (under 512 S D): the
    // cost no longer grows with S². Measured 9x below this at 128k (docs/benchmarks.md).
    e.macs = std::min(e.macs, heads * S * D * (D + 2.0 * accuracy_rows + 512));
  }
  e.cpu_s = e.macs / kEstimateMacsPerSecond;
  // A layer's Q, K, V and output of one batch element; a query tile's mask,
  // scores, probabilities and dense reference row; a dump's dense prediction of a head.
  e.memory_bytes = 64.0 * (1 << 20) + H * S * D * 4 * 4 + tile_rows * S * 32 + (dump && prediction ? 2 * S * S * 4 : 0);
  if (dump)
    e.dump_bytes = heads * (4 * S * D * 4 + (prediction ? 2 * S * D + 2 * S * S * 4 : 0) + (S + 1) * 4 + pairs * 12);
  return e;
}

namespace {
std::string gib(double bytes) {
  std::ostringstream s;
  s.precision(3);
  s << bytes / (1024.0 * 1024 * 1024) << " GiB";
  return s.str();
}
std::string sci(double x) {
  std::ostringstream o;
  o.precision(3);
  o << x;
  return o.str();
}
std::string hours(double s) { return sci(s / 3600) + " h"; }
}  // namespace

void check_run_estimate(const RunEstimate& e, const WorkloadSpec& w, const std::string& dump_dir,
                        const std::string& override_flag) {
  const std::string fields = "layers x batch x heads x seq_len^2 x head_dim";
  const std::string anyway = " (" + override_flag + " runs it anyway)";
  const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (ram > 0 && e.memory_bytes > ram)
    throw InputError(w.file, "heads x seq_len x head_dim",
                     "the run needs an estimated " + gib(e.memory_bytes) + " of memory, this machine has " + gib(ram) + anyway);
  if (e.cpu_s > kEstimateCpuLimitS)
    throw InputError(w.file, fields,
                     "the run needs an estimated " + hours(e.cpu_s) + " of CPU time (" + sci(e.macs) +
                         " multiply-adds), more than a day; simulate fewer layers (--layers)" + anyway);
  if (!dump_dir.empty()) {
    std::error_code ec;
    std::filesystem::path where = std::filesystem::absolute(dump_dir, ec).parent_path();
    struct statvfs fs {};
    if (statvfs(where.c_str(), &fs) == 0) {
      const double free_bytes = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
      if (e.dump_bytes > free_bytes)
        throw InputError(dump_dir, "--dump",
                         "the dump needs up to an estimated " + gib(e.dump_bytes) + ", " + where.string() + " has " +
                             gib(free_bytes) + " free" + anyway);
    }
  }
}

}  // namespace attnsim
