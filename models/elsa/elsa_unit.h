#pragma once
// ELSA's candidate selection as a mask unit (docs/elsa.md): it hashes a
// head's keys on the head's first tile and each tile's queries, and keeps
// the keys whose estimated probability ratio to the row's best reaches the
// threshold (kernels/elsa.h). Latency: elsa_timing.h. It works in front of
// any PE array.
#include <utility>

#include "common/compute_unit.h"
#include "elsa/elsa_config.h"
#include "kernels/elsa.h"

namespace attnsim {

class ElsaUnit : public JobUnit<MaskJob> {
 public:
  ElsaUnit(sc_core::sc_module_name name, const ElsaConfig& config, int head_dim, double clock_ghz);
  std::optional<int64_t> pe_count() const override { return config_.hash_multipliers; }

 protected:
  void run(MaskJob& job) override;

 private:
  ElsaConfig config_;
  MatF projection_;
  std::vector<int32_t> cos_table_;
  double log_inv_p_;
  std::pair<int, int> head_key_{-1, -1};  // (layer, head_index) the hashes belong to
  ElsaHashes queries_, keys_;
};

}  // namespace attnsim
