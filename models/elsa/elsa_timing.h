#pragma once
// Latency of ELSA's candidate selection on a tile (own model on ELSA's
// hardware, Ham et al. ISCA 2021, §IV: a hash computation module, a norm
// computation module and candidate selection modules in front of the
// attention modules). Each formula is tested in tests/models/test_elsa_unit.cpp.
#include <cstdint>

#include "common/run_stats.h"
#include "elsa/elsa_config.h"

namespace attnsim {

// Hashing and norms of n rows of width d: n * (k + 1) * d MACs (k sign
// projections and the squared norm) on the hash unit's multipliers, plus its
// pipeline fill. Keys are hashed once per head (its first tile), queries per tile.
UnitWork elsa_hash_work(int64_t rows, int head_dim, const ElsaConfig& c);

// Candidate selection of a tile with `pairs` allowed (query, key) pairs and
// `kept` candidates: each lane estimates one pair per cycle (XOR, popcount,
// cosine table, times the key's norm) while the row maximum accumulates, then
// compares the buffered estimates against the row's bound in a second pass
// (the keep rule is relative to the maximum); the kept indices leave at
// emit_lanes per cycle.
UnitWork elsa_select_work(int64_t pairs, int64_t kept, const ElsaConfig& c);

}  // namespace attnsim
