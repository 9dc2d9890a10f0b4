#pragma once
// `attnsim run --dump DIR`: the inputs and every intermediate tensor as .npy,
// plus meta.json describing the algorithm (format: docs/dump_format.md). The
// files are written into DIR.partial and renamed to DIR only on success.
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
};

class DumpWriter {
 public:
  // meta: algorithm, parameters, workload; groups = batch * heads.
  DumpWriter(const std::string& dir, nlohmann::json meta, bool with_prediction, int layers, int groups, int seq,
             int dim);
  ~DumpWriter();
  void add_head(const HeadDump& h);  // heads in (layer, group) order
  void commit();

 private:
  std::string dir_, tmp_;
  nlohmann::json meta_;
  bool with_prediction_, committed_ = false;
  int layers_, groups_, seq_, dim_;
  int64_t heads_written_ = 0, nnz_ = 0;
  std::vector<int64_t> offsets_{0};
  std::vector<float> quant_scales_;
  std::vector<std::unique_ptr<NpyStreamWriter>> files_;
  NpyStreamWriter* file(const std::string& name);
  std::vector<std::string> names_;
};

}  // namespace attnsim
