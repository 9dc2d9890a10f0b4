#pragma once
// The jobs the controller sends to the units: one query tile of one head.
// Each is a TLM extension of the generic payload (timing.h: send_job), so a
// unit finds its job by type and a job sent to the wrong slot is an error
// response rather than a misread pointer.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/timing.h"
#include "kernels/attention.h"
#include "kernels/pack_split.h"
#include "kernels/sanger_predict.h"
#include "kernels/tile_shape.h"
#include "common/run_stats.h"
#include "workload/workload.h"

namespace attnsim {

template <class T>
struct Job : tlm::tlm_extension<T> {
  tlm::tlm_extension_base* clone() const override { return new T(static_cast<const T&>(*this)); }
  void copy_from(const tlm::tlm_extension_base& other) override { static_cast<T&>(*this) = static_cast<const T&>(other); }
};

struct MaskJob : Job<MaskJob> {
  // in
  const HeadTensors* head = nullptr;  // the head's Q, K, V (full precision)
  // Every head of the layer for this batch element (units that look across
  // heads, e.g. Sanger's one absmax per layer).
  const std::vector<HeadTensors>* layer_heads = nullptr;
  int layer = 0, head_index = 0;      // position of the head (head_index = batch * heads + head)
  int row0 = 0, rows = 0;             // the tile's query rows
  bool causal = false;
  double scale = 1;                   // the softmax scale
  // The tile's mask when a previous run already computed it (functional
  // cache): the unit may skip its functional work and only time the job.
  const CsrMask* known_mask = nullptr;
  // The controller takes the tile's mask as a TileShape where the unit's
  // pattern allows (caps.structured_masks): then `shape` is set and
  // prediction.mask stays empty.
  bool structured = false;
  // Observation instead of prediction: the tile the PE array just computed
  // (its mask and values), for mask units that learn from results (SpAtten's
  // importance scores). Such a job has rows == 0 and produces no mask.
  const CsrMask* observed_mask = nullptr;
  const MaskedAttention* observed = nullptr;
  bool dumping = false;               // the run writes a dump (--dump): fill dump_info
  // What the unit's prepare_head computed for this head ahead of time (null: nothing; compute now).
  std::shared_ptr<const void> prepared;
  // out
  Prediction prediction;              // prediction.mask is the tile's mask (rows x keys)
  std::optional<TileShape> shape;     // ... or its structure (structured only)
  const HeadQuant* quant = nullptr;   // Sanger: the head's quantised Q and K (valid until the next head)
  UnitWork work;
  // Keys of the head's K the unit itself reads for this job (full width):
  // fetched from DRAM when K is not resident on chip.
  int64_t k_keys_read = 0;
  nlohmann::json head_info;           // per-head facts for the report (e.g. the chosen pattern), set on row0 == 0
  nlohmann::json dump_info;           // dumping only, on row0 == 0: the unit's state for the dump (docs/dump_format.md)
};

struct EncodeJob : Job<EncodeJob> {
  const CsrMask* mask = nullptr;     // the tile's mask, or
  const TileShape* shape = nullptr;  // its structure (units with caps.structured_masks)
  PackSplitSchedule schedule;
  UnitWork work;
};

struct ComputeJob : Job<ComputeJob> {
  // in
  const MatF* q_tile = nullptr;
  const HeadOperands* kv = nullptr;
  const CsrMask* mask = nullptr;     // the tile's mask, or
  const TileShape* shape = nullptr;  // its structure (units with caps.structured_masks)
  const PackSplitSchedule* schedule = nullptr;  // score_stationary only
  const std::vector<char>* row_active = nullptr;  // rows pruned away (0) cost nothing; null: all active
  // Each row's maximum as the mask unit predicted it (empty: none); an array
  // whose exp takes it from the prediction uses it (RowMaxSource::predictor).
  const std::vector<float>* predicted_row_max = nullptr;
  AttentionNumerics numerics;
  bool causal = false;
  int row0 = 0;
  int layer = 0;             // the model layer the tile belongs to
  bool timing_only = false;  // values known from the functional cache: skip computing them
  // The tile rows whose values an observer reads (ascending; a sampled
  // accuracy check reads every k-th row); null: every row. Values of other
  // rows are not computed (their output rows stay zero).
  const std::vector<int>* value_rows = nullptr;
  // out
  MaskedAttention result;
  UnitWork work;
  int64_t score_buffer_bytes = 0;  // what the tile keeps in the score buffer
  // Share of the K and V bytes the tile really fetches (progressive
  // quantisation, local V pruning); 1 = all of the needed keys at full width.
  double k_fetch_scale = 1.0, v_fetch_scale = 1.0;
  // SpAtten datapath, per row: recomputed with the full-precision keys, and
  // the row's largest probability on the MSB-only pass (what decided it).
  std::vector<char> row_requantised;
  std::vector<float> row_top_prob;
};

// The values a fast PE-array model computes for its job: the rows
// job.value_rows names (all when null), nothing when timing_only.
void compute_values(ComputeJob& job);

}  // namespace attnsim
