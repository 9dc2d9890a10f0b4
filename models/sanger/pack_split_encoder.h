#pragma once
// Sanger's pack-and-split encoder: turns a tile's mask into the sub-row
// schedule of the score-stationary array (kernels/pack_split.h).
#include "common/compute_unit.h"
#include "sanger/sanger_config.h"

namespace attnsim {

class PackSplitEncoder : public JobUnit<EncodeJob> {
 public:
  PackSplitEncoder(sc_core::sc_module_name name, const PackSplitConfig& config, int pes_per_row, double clock_ghz);

 protected:
  void run(EncodeJob& job) override;

 private:
  PackSplitConfig config_;
  int pes_per_row_;
};

}  // namespace attnsim
