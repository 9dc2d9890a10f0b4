// gpu_ref_fused DUMP_DIR OUT_DIR [--dtype fp16|bf16] [--block N] [--q-block N] [--kv-block N]
//                                [--tiling NAME] [--mask dump|full] [--repeats N] [--warmup N]
//
// Runs the fused block-sparse attention kernel (src/kernels/) on a dump of
// `attnsim run --dump`: q/k/v (fp32 in the dump) are converted to fp16/bf16 on
// the GPU, the block mask is built on the host from the dump's element mask
// (mask_indptr / mask_indices / mask_offsets: the simulator's mask; a block is
// FULL if all its elements are kept, PARTIAL if some, empty if none) or, with
// --mask full, is the full (causal if params.causal) mask. Writes
// OUT_DIR/output.npy (fp32, [L, G, S, D]) and OUT_DIR/meta.json (format
// "attnsim-gpu", algorithm "<dump algorithm>+fused") with CUDA-event timings of
// the steps convert_in, attention, convert_out and total.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/device.h"
#include "common/dump.h"
#include "common/error.h"
#include "common/npy.h"
#include "common/timing.h"
#include "kernels/block_sparse_attn.h"
#include "kernels/convert.cuh"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace gpu_ref {
namespace {

constexpr const char* kUsage =
    "usage: gpu_ref_fused DUMP_DIR OUT_DIR [--dtype fp16|bf16] [--block 64|128] [--q-block 64|128] "
    "[--kv-block 64|128] [--tiling auto|q64_w4|q64_w4_s3|q64_w2|q128_w8|q128_w4|wg64|wg128|...] [--mask dump|full] "
    "[--repeats N] "
    "[--warmup N]";

struct Args {
  std::string dump_dir, out_dir, mask = "dump";
  bsa::DataType dtype = bsa::DataType::fp16;
  int q_block = 64, kv_block = 64;
  bsa::Tiling tiling = bsa::Tiling::automatic;
  int repeats = 20, warmup = 5;
};

int parse_int(const std::string& flag, const char* text, int min, int max) {
  if (!text) throw InputError(flag, "expects a number");
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > max)
    throw InputError(flag, "expects an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got '" +
                               text + "'");
  return static_cast<int>(v);
}

int parse_block(const std::string& flag, const char* text) {
  const int b = parse_int(flag, text, 1, 1 << 20);
  if (b != 64 && b != 128) throw InputError(flag, "expects 64 or 128");
  return b;
}

Args parse_args(int argc, char** argv) {
  Args a;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (s == "-h" || s == "--help") {
      std::cout << kUsage << "\n"
                << "  Runs the fused block-sparse attention kernel on a dump (see gpu_ref/README.md).\n"
                << "  --dtype      operand type (default fp16; accumulation is fp32)\n"
                << "  --block N    q and kv block size (default 64)\n"
                << "  --mask       dump: the dump's element mask (default); full: all keys (causal if the dump is)\n"
                << "  --repeats N  timed runs (default 20), --warmup N untimed runs first (default 5)\n";
      std::exit(0);
    } else if (s == "--dtype") {
      if (!next || (std::string(next) != "fp16" && std::string(next) != "bf16"))
        throw InputError(s, "expects fp16 or bf16");
      a.dtype = std::string(next) == "bf16" ? bsa::DataType::bf16 : bsa::DataType::fp16;
      ++i;
    } else if (s == "--block") {
      a.q_block = a.kv_block = parse_block(s, next);
      ++i;
    } else if (s == "--q-block") {
      a.q_block = parse_block(s, next);
      ++i;
    } else if (s == "--kv-block") {
      a.kv_block = parse_block(s, next);
      ++i;
    } else if (s == "--tiling") {
      const std::string t = next ? next : "";
      bool found = false;
      for (int c = 0; c < bsa::kNumTilings; ++c)
        if (t == bsa::tiling_name(static_cast<bsa::Tiling>(c))) {
          a.tiling = static_cast<bsa::Tiling>(c);
          found = true;
        }
      if (!found) throw InputError(s, "unknown tiling '" + t + "'");
      ++i;
    } else if (s == "--mask") {
      a.mask = next ? next : "";
      if (a.mask != "dump" && a.mask != "full") throw InputError(s, "expects dump or full");
      ++i;
    } else if (s == "--repeats") {
      a.repeats = parse_int(s, next, 1, 1000000);
      ++i;
    } else if (s == "--warmup") {
      a.warmup = parse_int(s, next, 0, 1000000);
      ++i;
    } else if (!s.empty() && s[0] == '-') {
      throw InputError(s, std::string("unknown option; ") + kUsage);
    } else {
      pos.push_back(s);
    }
  }
  if (pos.size() != 2) throw InputError("arguments", kUsage);
  a.dump_dir = pos[0];
  a.out_dir = checked_out_dir(pos[1], a.dump_dir);
  if (a.tiling != bsa::Tiling::automatic && bsa::tiling_q_block(a.tiling) != a.q_block)
    throw InputError("--tiling", std::string(bsa::tiling_name(a.tiling)) + " needs --q-block " +
                                     std::to_string(bsa::tiling_q_block(a.tiling)));
  return a;
}

NpyArray read_checked(const std::string& path, DType t, const std::vector<int64_t>& shape) {
  NpyArray a = read_npy(path);
  if (a.dtype != t) throw InputError(path, std::string("dtype ") + dtype_name(a.dtype) + ", expected " + dtype_name(t));
  if (!shape.empty() && a.shape != shape)
    throw InputError(path, "shape " + shape_str(a.shape) + ", expected " + shape_str(shape));
  return a;
}

bsa::HostBlockMask build_mask(const DumpInput& in, const Args& a, std::string& source) {
  const int H = static_cast<int>(in.heads()), S = in.seq_len;
  if (a.mask == "full") {
    const int nqb = (S + a.q_block - 1) / a.q_block, nkb = (S + a.kv_block - 1) / a.kv_block;
    std::vector<int8_t> kinds(static_cast<size_t>(nqb) * nkb, 1);
    if (in.causal) {
      for (int qb = 0; qb < nqb; ++qb)
        for (int kb = 0; kb < nkb; ++kb) {
          const int r0 = qb * a.q_block, r1 = std::min(S, r0 + a.q_block) - 1;
          const int c0 = kb * a.kv_block, c1 = std::min(S, c0 + a.kv_block) - 1;
          kinds[static_cast<size_t>(qb) * nkb + kb] = c1 <= r0 ? 1 : (c0 <= r1 ? 2 : 0);
        }
    }
    source = in.causal ? "full causal mask (--mask full)" : "full mask (--mask full)";
    return bsa::block_mask_from_kinds(kinds.data(), 1, S, a.q_block, a.kv_block);
  }
  const std::string d = in.dir + "/";
  const NpyArray indptr = read_checked(d + "mask_indptr.npy", DType::i32, {in.layers, in.groups, S + 1});
  const NpyArray offsets = read_checked(d + "mask_offsets.npy", DType::i64, {H + 1});
  const NpyArray indices = read_checked(d + "mask_indices.npy", DType::i32, {});
  const int64_t* off = offsets.as<int64_t>();
  if (indices.shape.size() != 1 || off[0] != 0 || off[H] != indices.shape[0])
    throw InputError(d + "mask_offsets.npy", "does not match mask_indices.npy");
  for (int h = 0; h < H; ++h)
    if (off[h + 1] - off[h] != indptr.as<int32_t>()[static_cast<size_t>(h) * (S + 1) + S])
      throw InputError(d + "mask_indptr.npy", "head " + std::to_string(h) + ": entries disagree with mask_offsets");
  source = "the dump's element mask (mask_indptr / mask_indices / mask_offsets)";
  return bsa::block_mask_from_csr(indptr.as<int32_t>(), indices.as<int32_t>(), off, H, S, a.q_block, a.kv_block);
}

int run(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  DumpInput in = load_dump_meta(args.dump_dir);
  if (in.head_dim != 32 && in.head_dim != 64 && in.head_dim != 128)
    throw InputError(in.meta_path(), "head_dim " + std::to_string(in.head_dim) + ": the fused kernel takes 32, 64 or 128");
  load_dump_tensors(in);
  std::string mask_source;
  const auto t0 = std::chrono::steady_clock::now();
  bsa::HostBlockMask hmask = build_mask(in, args, mask_source);
  // automatic on a 64-row mask: merged into 128-row q-blocks where that runs faster (the same element mask)
  const int built_q_block = hmask.q_block;
  if (args.tiling == bsa::Tiling::automatic && bsa::merged_q_blocks_pay(hmask.q_block, in.head_dim)) {
    hmask = bsa::merge_q_blocks(hmask);
    mask_source += ", 64-row q-blocks merged into 128-row ones";
  }
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  GpuContext ctx;
  const GpuInfo gpu = query_gpu_info();
  cudaStream_t st = ctx.stream;
  const int H = static_cast<int>(in.heads()), S = in.seq_len, D = in.head_dim;
  const size_t n = static_cast<size_t>(H) * S * D;
  DeviceBuffer<float> q32, k32, v32, o32(n);
  q32.upload(in.q.data(), n, st);
  k32.upload(in.k.data(), n, st);
  v32.upload(in.v.data(), n, st);
  DeviceBuffer<uint16_t> q16(n), k16(n), v16(n), o16(n);
  const bsa::DeviceBlockMask dmask(hmask, st);

  bsa::ForwardArgs fa;
  fa.q = q16.get();
  fa.k = k16.get();
  fa.v = v16.get();
  fa.o = o16.get();
  fa.heads = H;
  fa.seq_len = S;
  fa.head_dim = D;
  fa.scale = static_cast<float>(in.scale);
  fa.dtype = args.dtype;
  fa.tiling = args.tiling;

  StepTimer timer(st);
  auto poison = [&] {
    o16.fill_bytes(0xff, n, st);  // NaN in fp16 and bf16
    o32.fill_bytes(0xff, n, st);
  };
  timed_runs(timer, args.warmup, args.repeats, poison, [&] {
    timer.start("convert_in");
    bsa::convert_from_f32(q32.get(), q16.get(), n, args.dtype, st);
    bsa::convert_from_f32(k32.get(), k16.get(), n, args.dtype, st);
    bsa::convert_from_f32(v32.get(), v16.get(), n, args.dtype, st);
    timer.stop();
    timer.start("attention");
    bsa::forward(fa, dmask.view(), st);
    timer.stop();
    timer.start("convert_out");
    bsa::convert_to_f32(o16.get(), o32.get(), n, args.dtype, st);
    timer.stop();
  });
  NpyArray out;
  out.dtype = DType::f32;
  out.shape = {in.layers, in.groups, S, D};
  out.bytes.resize(n * sizeof(float));
  o32.download(out.as<float>(), n, st);
  ctx.sync();

  // Against the simulator's own output in the dump, when it is there (for information).
  json vs = json::object();
  const std::string sim_out = in.dir + "/output.npy";
  if (fs::exists(sim_out)) {
    const NpyArray ref = read_npy(sim_out);
    if (ref.dtype == DType::f32 && ref.count() == n) {
      double max_ref = 0, max_err = 0, se = 0, sr = 0;
      size_t nan = 0;
      for (size_t i = 0; i < n; ++i) {
        const double r = ref.as<float>()[i], g = out.as<float>()[i];
        if (!std::isfinite(g)) ++nan;
        max_ref = std::max(max_ref, std::fabs(r));
        max_err = std::max(max_err, std::fabs(g - r));
        se += (g - r) * (g - r);
        sr += r * r;
      }
      vs = json{{"file", "output.npy of the dump"},
                {"max_abs_error", max_err},
                {"max_abs_ref", max_ref},
                {"max_error_rel_to_max_ref", max_ref > 0 ? max_err / max_ref : max_err},
                {"relative_l2_error", sr > 0 ? std::sqrt(se / sr) : std::sqrt(se)},
                {"non_finite", nan}};
    }
  }

  const std::vector<StepSummary> steps = timer.summary();
  json timings = json::object();
  for (const StepSummary& s : steps) timings[s.name] = json{{"median", s.median_ms}, {"min", s.min_ms}, {"repeats", s.repeats}};
  const double total_elems = static_cast<double>(H) * S * S;
  const double computed = static_cast<double>(hmask.computed_elements) * (H / hmask.mask_heads);
  double att_ms = 0;
  for (const StepSummary& s : steps)
    if (s.name == "attention") att_ms = s.median_ms;

  json meta;
  meta["format"] = "attnsim-gpu";
  meta["version"] = 1;
  meta["algorithm"] = in.algorithm + "+fused";
  meta["dump_meta"] = *in.meta;
  meta["gpu"] = json{{"name", gpu.name},
                     {"compute_capability", gpu.compute_capability},
                     {"multiprocessors", gpu.multiprocessors},
                     {"cuda_runtime_version", gpu.cuda_runtime_version},
                     {"cuda_driver_version", gpu.cuda_driver_version}};
  meta["numerics"] = std::string(args.dtype == bsa::DataType::fp16 ? "fp16" : "bf16") +
                     " operands (q, k, v and P rounded), fp32 accumulation and softmax (exp2)";
  meta["kernel"] = json{{"name", "fused block-sparse attention (gpu_ref/src/kernels)"},
                        {"dtype", args.dtype == bsa::DataType::fp16 ? "fp16" : "bf16"},
                        {"q_block", hmask.q_block},
                        {"q_block_built", built_q_block},
                        {"kv_block", args.kv_block},
                        {"tiling", bsa::tiling_name(bsa::resolve_tiling(args.tiling, D, dmask.view()))},
                        {"mask_source", mask_source}};
  meta["block_mask"] = json{{"mask_heads", hmask.mask_heads},
                            {"listed_blocks", hmask.n_entries()},
                            {"full_blocks", hmask.full_blocks},
                            {"causal_blocks", hmask.causal_blocks},
                            {"partial_blocks", hmask.partial_blocks},
                            {"computed_elements", computed},
                            {"kept_elements", static_cast<double>(hmask.kept_elements) * (H / hmask.mask_heads)},
                            {"block_density", computed / total_elems},
                            {"element_density", static_cast<double>(hmask.kept_elements) * (H / hmask.mask_heads) / total_elems},
                            {"host_build_ms", build_ms}};
  meta["effective_tflops"] = att_ms > 0 ? 4.0 * D * computed / (att_ms * 1e-3) / 1e12 : 0.0;
  meta["warmup"] = args.warmup;
  meta["files"] = json::array({"output.npy"});
  if (!vs.empty()) meta["vs_dump_output"] = vs;
  meta["timings_ms"] = timings;
  write_output_dir(args.out_dir, [&](const std::string& tmp) { write_npy(tmp + "/output.npy", out); }, meta);

  std::cout << "gpu_ref_fused: " << in.algorithm << " " << in.layers << "x" << in.groups << " heads, S=" << S
            << ", D=" << D << ", blocks " << hmask.q_block << "x" << args.kv_block << " ("
            << hmask.n_entries() << " listed: " << hmask.full_blocks << " full, " << hmask.causal_blocks
            << " causal, " << hmask.partial_blocks << " partial) on " << gpu.name << " -> " << args.out_dir
            << "\n  timings (median ms of " << args.repeats << "):";
  for (const StepSummary& s : steps) std::cout << " " << s.name << "=" << s.median_ms;
  if (!vs.empty()) std::cout << "\n  vs the dump's output: max err / max |ref| = " << vs["max_error_rel_to_max_ref"];
  std::cout << "\n";
  return 0;
}

}  // namespace
}  // namespace gpu_ref

int main(int argc, char** argv) { return gpu_ref::main_with_errors("gpu_ref_fused", gpu_ref::run, argc, argv); }
