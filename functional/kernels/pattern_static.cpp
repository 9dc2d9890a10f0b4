#include "kernels/pattern_static.h"

#include <algorithm>
#include <stdexcept>

namespace attnsim {

int local_stride_head_shift(const StaticPatternParams& p, int head, int num_heads) {
  const int step = p.homo_head ? 0 : std::max(1, p.vert_stride / std::max(1, num_heads));
  return head * step + p.head_sliding_offset;
}

namespace {
uint8_t rule_code(const std::string& r) {
  if (r == "none") return 0;
  if (r == "causal") return 1;
  if (r == "same_segment") return 2;
  throw std::invalid_argument("unknown modality rule '" + r + "'");
}
}  // namespace

MaskPlan static_plan(const StaticPatternParams& p, int seq, int head, int num_heads,
                     const std::shared_ptr<const SegmentMap>& segments) {
  auto segs = segments ? segments : std::make_shared<const SegmentMap>(SegmentMap::single(seq));
  HeadPattern hp;
  hp.kind = p.pattern;
  hp.seq = seq;
  hp.block = p.block;
  hp.segments = segs;
  hp.block_granular = p.block_granular;
  if (p.pattern == "local_stride") {
    hp.local_blocks = p.local_blocks;
    hp.vert_stride = p.vert_stride;
    hp.head_shift = local_stride_head_shift(p, head, num_heads);
  } else if (p.pattern == "a_shape" || p.pattern == "tri_shape") {
    hp.n_init = p.n_init;
    hp.n_local = p.n_local;
    hp.n_last = p.pattern == "tri_shape" ? p.n_last : 0;
  } else if (p.pattern == "modality") {
    const int M = segs->modalities();
    hp.modality_rule.assign(static_cast<size_t>(M) * M, rule_code(p.default_rule));
    for (const auto& r : p.modality_rules) {
      const int qm = segs->modality_index(r.q), km = segs->modality_index(r.k);
      if (qm >= 0 && km >= 0) hp.modality_rule[qm * M + km] = rule_code(r.rule);
    }
  } else {
    throw std::invalid_argument("unknown static pattern '" + p.pattern + "'");
  }
  hp.prepare();
  MaskPlan plan;
  plan.by_query = {hp};
  plan.segments = segs;
  return plan;
}

}  // namespace attnsim
