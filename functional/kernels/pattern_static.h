#pragma once
// Static (input-independent) mask sources (REFERENCE.md "GPU sparse-attention
// kernels in the same family"):
//   local_stride  Phi-3-small's blocksparse attention: block (q, k) active iff
//                 k <= q and (q - k < local_blocks or
//                 (k + h * head_sliding_step + head_sliding_offset) % vert_stride == 0),
//                 head_sliding_step = max(1, vert_stride / num_heads) (0 with homo_head);
//   a_shape       StreamingLLM / MInference A-shape (n_init, n_local); tri_shape adds n_last dense rows;
//   modality      an interleaved-modality mask: per (query modality, key
//                 modality) a rule causal | same_segment | none; its 64x64
//                 tiles are FULL, CAUSAL, PARTIAL or EMPTY (label_blocks).
#include <memory>
#include <string>
#include <vector>

#include "kernels/patterns.h"

namespace attnsim {

struct ModalityRule {
  std::string q, k;              // modality names (rules naming a modality the workload lacks are ignored)
  std::string rule = "causal";   // causal | same_segment | none
};

struct StaticPatternParams {
  std::string pattern = "local_stride";  // local_stride | a_shape | tri_shape | modality
  int block = 64;
  int local_blocks = 16, vert_stride = 8, head_sliding_offset = 0;  // Phi-3-small: 64, 16, 8
  bool homo_head = false;
  int n_init = 64, n_local = 1024, n_last = 64;
  bool block_granular = false;  // a_shape / tri_shape: MInference block layout
  std::string default_rule = "causal";
  std::vector<ModalityRule> modality_rules;
};

// The head's plan: `head` is the head's index within its layer.
MaskPlan static_plan(const StaticPatternParams& p, int seq, int head, int num_heads,
                     const std::shared_ptr<const SegmentMap>& segments);

// Phi-3-small's per-head shift: h * head_sliding_step + head_sliding_offset.
int local_stride_head_shift(const StaticPatternParams& p, int head, int num_heads);

}  // namespace attnsim
