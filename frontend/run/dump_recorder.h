#pragma once
// --dump: collects each head's inputs, mask, values and the mask unit's state
// as the controller runs it, and hands the head to the DumpWriter
// (docs/dump_format.md) at the head's end.
#include "controller/run_observer.h"
#include "report/dump.h"

namespace attnsim {

class DumpRecorder : public RunObserver {
 public:
  DumpRecorder(DumpWriter& writer, const WorkloadSpec& workload, bool dense_prediction)
      : writer_(writer), workload_(workload), prediction_(dense_prediction) {}

  void head_begin(const HeadTensors& head, int layer, int head_index, std::shared_ptr<const void> prepared) override;
  void tile(const TileEvent& t) override;
  void head_end(int layer, int head_index, PeriodStats& layer_stats) override;
  bool wants_dump_data() const override { return true; }
  bool wants_probabilities() const override { return true; }
  int value_row_stride() const override { return 1; }
  bool wants_csr_masks() const override { return true; }

 private:
  DumpWriter& writer_;
  const WorkloadSpec& workload_;
  bool prediction_;  // the mask unit's dense prediction of every head (Sanger)
  HeadDump hd_;
};

}  // namespace attnsim
