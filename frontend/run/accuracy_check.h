#pragma once
// The report's accuracy check (not hardware): every tile's output against
// dense fp32 attention, on all rows or on every stride-th row of each head
// (--accuracy-rows), added to the layer's counters at the head's end; and,
// with a functional cache, the heads' masks and accuracy reused from an
// earlier run with the same values and stored for the next one.
#include <optional>
#include <vector>

#include "controller/run_observer.h"
#include "dse/functional_cache.h"

namespace attnsim {

class AccuracyCheck : public RunObserver {
 public:
  // accuracy_rows: rows per head compared with dense attention (0: all);
  // cache: null for no reuse.
  AccuracyCheck(const WorkloadSpec& workload, int query_rows, int accuracy_rows, FunctionalCache* cache);

  const CachedHead* cached_head(int layer, int head_index) override;
  // Sampled rows: their dense reference, ahead on the pool.
  std::shared_ptr<const void> prepare_head(const HeadTensors& head) const override;
  void head_begin(const HeadTensors& head, int layer, int head_index, std::shared_ptr<const void> prepared) override;
  void tile(const TileEvent& t) override;
  void head_end(int layer, int head_index, PeriodStats& layer_stats) override;
  int value_row_stride() const override { return stride_; }
  bool wants_csr_masks() const override { return cache_ != nullptr; }  // cache entries hold CSR masks

 private:
  // A query row whose output is compared with dense attention.
  struct SampledRow {
    int tile = 0, row = 0;       // the row's tile in its head, its query position
    std::vector<float> output;   // the PE array's output row
    std::vector<int32_t> keys;   // its mask row
  };
  // Dense attention of the sampled rows (every stride-th) in batches of kBatch rows.
  static constexpr int kBatch = 32;
  struct SampledReference {
    std::vector<DenseReference> batches;
  };
  void add_sampled_rows();
  std::shared_ptr<const SampledReference> make_reference(const HeadTensors& head) const;

  const WorkloadSpec& workload_;
  int query_rows_, stride_;
  FunctionalCache* cache_;
  const HeadTensors* head_ = nullptr;
  std::shared_ptr<const SampledReference> reference_;
  std::optional<CachedHead> cached_;
  std::vector<AccuracyStats> accuracy_;  // per tile of the head
  std::vector<SampledRow> sampled_;
  CachedHead record_;                    // what the cache stores for the head
};

}  // namespace attnsim
