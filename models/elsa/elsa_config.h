#pragma once
// Parameters of ELSA's candidate selection as a mask unit (Ham et al., ISCA
// 2021; docs/elsa.md). Defaults are the member initialisers; JSON names,
// ranges and docs: elsa_units.cpp.
#include "kernels/elsa.h"

namespace attnsim {

struct ElsaConfig {
  ElsaParams selection;         // hash_bits, threshold, seed (kernels/elsa.h)
  int hash_multipliers = 1024;  // hash unit: projection and norm MACs per cycle
  int select_lanes = 64;        // candidate selection: (query, key) pairs estimated per cycle
  int pipeline_latency_cycles = 6;  // hash and selection pipelines' fill (own choice)
  int emit_lanes = 64;          // mask entries written per cycle per tile
};

}  // namespace attnsim
