#pragma once
// The input side of gpu_ref: a directory written by `attnsim run --dump`
// (docs/dump_format.md). Only meta.json and the inputs q/k/v are read; the
// simulator's own results are never used.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace gpu_ref {

struct DumpInput {
  std::string dir;
  std::shared_ptr<const nlohmann::ordered_json> meta;  // meta.json as read (key order kept)
  std::string algorithm;
  int layers = 0, groups = 0, seq_len = 0, head_dim = 0;
  double scale = 1.0;  // params.scale
  bool causal = false; // params.causal
  std::vector<float> q, k, v;  // [L, G, S, D]

  int64_t heads() const { return static_cast<int64_t>(layers) * groups; }
  std::string meta_path() const;

  // params.<key> accessors for the algorithm pieces; a missing key or a wrong
  // type throws InputError("<dir>/meta.json", "params.<key>: ...").
  double param_number(const std::string& key) const;
  int param_int(const std::string& key) const;
  bool param_bool(const std::string& key) const;
  bool param_bool_or(const std::string& key, bool fallback) const;
  std::string param_string_or(const std::string& key, const std::string& fallback) const;
  [[noreturn]] void fail_param(const std::string& key, const std::string& what) const;
};

// Reads and checks meta.json (format, version, shapes, params.scale,
// params.causal). Throws InputError.
DumpInput load_dump_meta(const std::string& dir);

// Reads q.npy, k.npy, v.npy and checks dtype float32 and shape [L, G, S, D].
void load_dump_tensors(DumpInput& in);

// The OUT_DIR argument of the tools, checked: "out/" -> "out" (so that "out.partial", where the output is
// written first, is a sibling); not empty, ".", "/" or the dump directory itself (it is replaced as a whole).
std::string checked_out_dir(const std::string& arg, const std::string& dump_dir);

// Writes an output directory whole or not at all: `write_files(tmp)` fills out_dir + ".partial", meta.json is
// added, and the directory then replaces out_dir; on any failure the partial directory is removed.
void write_output_dir(const std::string& out_dir, const std::function<void(const std::string& tmp)>& write_files,
                      const nlohmann::json& meta);

}  // namespace gpu_ref
