#include "spatten/spatten_timing.h"

#include <algorithm>

namespace attnsim {

UnitWork spatten_tile_timing(const std::vector<SpattenRow>& rows, int head_dim, const SpattenDatapathConfig& p,
                             bool charge_fill_drain) {
  UnitWork w;
  Cycles pipelined = 0, qk = 0, softmax = 0, av = 0, topk = 0;
  int64_t macs = 0, active = 0, requantised = 0, probabilities = 0;
  for (const auto& r : rows) {
    if (r.keys == 0) continue;
    ++active;
    const Cycles q = ceil_div(static_cast<int64_t>(r.keys) * head_dim, p.qk_multipliers) * (r.requantised ? 2 : 1);
    const Cycles s = ceil_div(r.keys, p.softmax_lanes);
    const Cycles a = ceil_div(static_cast<int64_t>(r.v_rows) * head_dim, p.av_multipliers);
    pipelined += std::max({q, s, a, static_cast<Cycles>(r.topk_cycles)});
    qk += q;
    softmax += s;
    av += a;
    topk += r.topk_cycles;
    macs += static_cast<int64_t>(r.keys) * head_dim * (r.requantised ? 2 : 1) + static_cast<int64_t>(r.v_rows) * head_dim;
    requantised += r.requantised;
    probabilities += static_cast<int64_t>(r.keys) * (r.requantised ? 2 : 1);  // a recomputed row's softmax runs again
  }
  const Cycles fill_drain = active && charge_fill_drain ? p.pipeline_latency_cycles : 0;
  w.stages = {{"pipelined_rows", pipelined}, {"fill_drain", fill_drain}};
  w.cycles = pipelined + fill_drain;
  w.counts = {{"qk_cycles", qk},          {"softmax_cycles", softmax}, {"av_cycles", av},
              {"topk_v_cycles", topk},    {"rows_active", active},     {"rows_requantised", requantised},
              {"softmax_elements", probabilities}, {"normalised_rows", active}};
  w.macs = macs;
  w.pe_slots = pipelined * (p.qk_multipliers + p.av_multipliers);
  return w;
}

}  // namespace attnsim
