#pragma once
// The input side of gpu_ref: a directory written by `attnsim run --dump`
// (docs/dump_format.md). Only meta.json and the inputs q/k/v are read; the
// simulator's own results are never used.
#include <cstdint>
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

}  // namespace gpu_ref
