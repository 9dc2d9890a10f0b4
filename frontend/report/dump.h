#pragma once
// `attnsim run --dump DIR`: the inputs and every intermediate tensor as .npy,
// plus meta.json describing the algorithm (format: docs/dump_format.md). The
// files are written into DIR.partial.<pid> and renamed to DIR only on
// success; an earlier dump at DIR is replaced then, and nothing else ever is
// (attnsim run checks DIR with is_attnsim_dump before it starts).
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "util/npy.h"

namespace attnsim {

struct HeadDump {
  const MatF *q = nullptr, *k = nullptr, *v = nullptr;
  // Prediction (Sanger) only:
  const MatI8 *q_quant = nullptr, *k_quant = nullptr;
  double q_scale = 1, k_scale = 1;
  MatF pred_scores, pred_probs;
  // Always:
  CsrMask mask;
  std::vector<float> scores, probs;  // CSR values
  MatF output;
  // The mask unit's dump_info (SpAtten: alive sets and importance; DynamiQK: plan and estimates).
  nlohmann::json unit_info;
  // SpAtten datapath: per row, recomputed with full keys; the MSB pass's largest probability.
  std::vector<char> row_requantised;
  std::vector<float> row_top_prob;
};

// What a dump holds beyond the always-written tensors (docs/dump_format.md).
struct DumpContent {
  bool prediction = false;  // Sanger: quantised operands and dense prediction
  bool pruning = false;     // SpAtten: alive sets, importance, requantised rows
  bool patterns = false;    // DynamiQK detector: heads.json (plans with indices, estimates)
  int batch = 1, heads = 1;
};

// DIR holds an attnsim dump (its meta.json says "format": "attnsim-dump").
bool is_attnsim_dump(const std::string& dir);

class DumpWriter {
 public:
  // meta: algorithm, parameters, workload; groups = batch * heads.
  DumpWriter(const std::string& dir, nlohmann::json meta, DumpContent content, int layers, int groups, int seq,
             int dim);
  ~DumpWriter();
  void add_head(const HeadDump& h);  // heads in (layer, group) order
  void commit();

 private:
  std::string dir_, tmp_;
  nlohmann::json meta_;
  DumpContent content_;
  bool with_prediction_, committed_ = false;
  int layers_, groups_, seq_, dim_;
  int64_t heads_written_ = 0, nnz_ = 0;
  std::vector<int64_t> offsets_{0};
  std::vector<float> quant_scales_;
  // SpAtten: [L, B, S] token state, [L, G] head state, [L, G, S] row flags.
  std::vector<int8_t> token_alive_, head_alive_, row_requantised_;
  std::vector<double> token_importance_, head_importance_;
  std::vector<float> row_top_prob_;
  nlohmann::json heads_json_ = nlohmann::json::array();  // DynamiQK: per head, (layer, group) order
  std::vector<std::unique_ptr<NpyStreamWriter>> files_;
  NpyStreamWriter* file(const std::string& name);
  void add_pruning(const HeadDump& h);
  std::vector<std::string> names_;
};

}  // namespace attnsim
