#include "elsa/elsa_timing.h"

namespace attnsim {

namespace {
int64_t ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

UnitWork elsa_hash_work(int64_t rows, int head_dim, const ElsaConfig& c) {
  UnitWork w;
  if (rows == 0) return w;
  const int64_t macs = rows * (c.selection.hash_bits + 1) * head_dim;
  w.cycles = ceil_div64(macs, c.hash_multipliers) + c.pipeline_latency_cycles;
  w.stages = {{"hash", w.cycles}};
  w.macs = macs;
  w.pe_slots = (w.cycles - c.pipeline_latency_cycles) * c.hash_multipliers;
  return w;
}

UnitWork elsa_select_work(int64_t pairs, int64_t kept, const ElsaConfig& c) {
  UnitWork w;
  if (pairs == 0) return w;
  const Cycles estimate = ceil_div64(pairs, c.select_lanes) + c.pipeline_latency_cycles;
  const Cycles compare = ceil_div64(pairs, c.select_lanes);
  const Cycles emit = ceil_div64(kept, c.emit_lanes);
  w.stages = {{"estimate", estimate}, {"compare", compare}, {"emit", emit}};
  w.cycles = estimate + compare + emit;
  w.macs = pairs;  // the cosine times the key's norm
  // Energy: a popcount per pair (an add), the running maximum and the bound
  // (two comparisons), an index per kept entry.
  w.counts = {{"add_ops", pairs}, {"compare_ops", 2 * pairs}, {"index_ops", kept}, {"pairs_estimated", pairs},
              {"candidates_kept", kept}};
  return w;
}

}  // namespace attnsim
