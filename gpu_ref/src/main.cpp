// gpu_ref DUMP_DIR OUT_DIR [--repeats N] [--warmup N] [--full]
//
// Recomputes, on the GPU, the algorithm of a dump written by
// `attnsim run --dump` (docs/dump_format.md) from its q/k/v alone, in exact
// fp32, and writes the same tensors plus meta.json (format "attnsim-gpu") with
// per-step CUDA-event timings. OUT_DIR is written as OUT_DIR.partial and
// renamed when complete.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "algorithms/algorithm.h"
#include "common/device.h"
#include "common/dump.h"
#include "common/error.h"
#include "common/npy.h"

using json = nlohmann::ordered_json;

namespace gpu_ref {
namespace {

constexpr const char* kUsage = "usage: gpu_ref DUMP_DIR OUT_DIR [--repeats N] [--warmup N] [--full]";

struct Args {
  std::string dump_dir, out_dir;
  RunOptions opt;
};

int parse_count(const std::string& flag, const char* text, int min) {
  if (!text) throw InputError(flag, "expects a number");
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > 1000000)
    throw InputError(flag, std::string("expects an integer >= ") + std::to_string(min) + ", got '" + text + "'");
  return static_cast<int>(v);
}

Args parse_args(int argc, char** argv) {
  Args a;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "-h" || s == "--help") {
      std::cout << kUsage << "\n"
                << "  Recomputes a dump of `attnsim run --dump` on the GPU (exact fp32) and writes\n"
                << "  OUT_DIR/meta.json + .npy tensors (see gpu_ref/README.md).\n"
                << "  --repeats N  timed runs (default 10; the median is reported)\n"
                << "  --warmup N   untimed runs first (default 3)\n"
                << "  --full       also write the dense [L, G, S, S] intermediates (sanger: pred_scores, pred_probs)\n";
      std::exit(0);
    } else if (s == "--repeats") {
      a.opt.repeats = parse_count(s, i + 1 < argc ? argv[++i] : nullptr, 1);
    } else if (s == "--warmup") {
      a.opt.warmup = parse_count(s, i + 1 < argc ? argv[++i] : nullptr, 0);
    } else if (s == "--full") {
      a.opt.full = true;
    } else if (!s.empty() && s[0] == '-') {
      throw InputError(s, std::string("unknown option; ") + kUsage);
    } else {
      pos.push_back(s);
    }
  }
  if (pos.size() != 2) throw InputError("arguments", kUsage);
  a.dump_dir = pos[0];
  a.out_dir = checked_out_dir(pos[1], a.dump_dir);
  return a;
}

json timings_json(const std::vector<StepSummary>& steps) {
  json t = json::object();
  for (const StepSummary& s : steps)
    t[s.name] = json{{"median", s.median_ms}, {"min", s.min_ms}, {"repeats", s.repeats}};
  return t;
}

void write_result(const std::string& out_dir, const AlgorithmResult& r, const json& meta) {
  write_output_dir(
      out_dir,
      [&](const std::string& tmp) {
        for (const auto& [name, arr] : r.tensors) write_npy(tmp + "/" + name + ".npy", arr);
        for (const auto& [name, text] : r.texts) {
          std::ofstream f(tmp + "/" + name);
          f << text;
          if (!f) throw InputError(tmp + "/" + name, "write failed");
        }
      },
      meta);
}

int run(int argc, char** argv) {
  const Args args = parse_args(argc, argv);

  // Everything about the input is checked before the GPU is touched.
  DumpInput in = load_dump_meta(args.dump_dir);
  const Algorithm* algo = find_algorithm(in.algorithm);
  if (!algo)
    throw InputError(in.meta_path(), "unknown algorithm \"" + in.algorithm + "\" (gpu_ref knows: " +
                                         known_algorithms() + ")");
  algo->validate(in);
  load_dump_tensors(in);

  GpuContext ctx;
  const GpuInfo gpu = query_gpu_info();
  const AlgorithmResult r = algo->run(in, ctx, args.opt);

  json meta;
  meta["format"] = "attnsim-gpu";
  meta["version"] = 1;
  meta["algorithm"] = in.algorithm;
  meta["dump_meta"] = *in.meta;
  meta["gpu"] = json{{"name", gpu.name},
                     {"compute_capability", gpu.compute_capability},
                     {"multiprocessors", gpu.multiprocessors},
                     {"cuda_runtime_version", gpu.cuda_runtime_version},
                     {"cuda_driver_version", gpu.cuda_driver_version},
                     {"cublas_version", gpu.cublas_version},
                     {"cusparse_version", gpu.cusparse_version}};
  meta["numerics"] = "fp32 exact path";
  const json& p = in.meta->at("params");
  json ignored = json::object();
  for (const char* key : {"number_format", "prob_format", "exp"})
    if (p.contains(key)) ignored[key] = p[key];
  meta["ignored_params"] = ignored;
  meta["numerics_note"] =
      "the GPU computes the exact fp32 path (expf, fp32 sums) and ignores the simulated hardware's "
      "number_format / prob_format / exp; compare with a fixed-point dump to measure its precision loss";
  if (r.nnz >= 0) meta["nnz"] = r.nnz;
  meta["warmup"] = args.opt.warmup;
  meta["full"] = args.opt.full;
  json files = json::array();
  for (const auto& t : r.tensors) files.push_back(t.first + ".npy");
  for (const auto& t : r.texts) files.push_back(t.first);
  meta["files"] = files;
  json notes = json::object();
  for (const auto& [k, v] : r.notes) notes[k] = v;
  meta["implementation"] = notes;
  meta["timings_ms"] = timings_json(r.timings);

  write_result(args.out_dir, r, meta);

  // One short summary line per run, for logs.
  std::cout << "gpu_ref: " << in.algorithm << " " << in.layers << "x" << in.groups << " heads, S=" << in.seq_len
            << ", D=" << in.head_dim;
  if (r.nnz >= 0) std::cout << ", nnz=" << r.nnz;
  std::cout << " on " << gpu.name << " -> " << args.out_dir << "\n  timings (median ms of " << args.opt.repeats
            << "):";
  for (const StepSummary& s : r.timings) std::cout << " " << s.name << "=" << s.median_ms;
  std::cout << "\n";
  return 0;
}

}  // namespace
}  // namespace gpu_ref

int main(int argc, char** argv) { return gpu_ref::main_with_errors("gpu_ref", gpu_ref::run, argc, argv); }
