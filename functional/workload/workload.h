#pragma once
// A workload: the shape of a transformer's attention and where its Q/K/V come
// from (a seeded synthetic generator or .npy captures), served one layer at a
// time so memory does not grow with the number of layers.
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "workload/long_context.h"  // data kind "long_context" (DynamiQK)
#include "workload/multimodal.h"    // data kind "multimodal" (DynamiQK)
#include "workload/synthetic.h"

namespace attnsim {

struct WorkloadSpec {
  std::string file;  // where it was loaded from (for error messages)
  std::string name, description;
  int layers = 1, heads = 1, seq_len = 128, head_dim = 64, batch = 1;
  int layers_to_simulate = 0;  // 0: all; else the first N layers (attnsim run --layers)
  bool causal = false;
  std::string data_kind = "synthetic";  // synthetic | npy | long_context | multimodal
  SyntheticParams synthetic;
  LongContextParams long_context;  // data kind "long_context"
  MultimodalParams multimodal;     // data kind "multimodal"
  std::string q_path, k_path, v_path;  // npy: resolved against the JSON's folder

  static WorkloadSpec load(const std::string& file);
  static WorkloadSpec from_json(const nlohmann::json& j, const std::string& file, const std::string& base_dir);
  nlohmann::json to_json() const;
  double scale() const;  // 1/sqrt(head_dim)
  // FNV-1a (hex) of the bytes of the tensor files the workload reads (npy
  // data), "" for generated data: to_json() names files, this is what they hold.
  // Read once per process (a sweep asks for it at every point); the files are inputs, not changed meanwhile.
  std::string data_hash() const;
  mutable std::string data_hash_memo;  // "" until data_hash() has run on npy data
  int simulated_layers() const { return layers_to_simulate ? std::min(layers, layers_to_simulate) : layers; }
};

struct HeadTensors {
  MatF q, k, v;  // seq_len x head_dim each
};

class WorkloadSource {
 public:
  virtual ~WorkloadSource() = default;
  // All heads of one layer of one batch element.
  virtual std::vector<HeadTensors> layer(int batch_index, int layer) = 0;
  // One head (memory for one head only: a 128k-token layer's heads do not
  // fit at once). Thread-safe: heads are prepared on a pool of threads.
  virtual HeadTensors head(int batch_index, int layer, int head) = 0;
};

// Opens the data source; .npy inputs are checked in full (shape, dtype,
// NaN/Inf) here, before any simulation, so bad data never yields a partial report.
std::unique_ptr<WorkloadSource> open_source(const WorkloadSpec& spec);

}  // namespace attnsim
