#pragma once
// Multimodal interleaved sequences (data kind "multimodal"): the workload
// lists its segments in order, e.g.
//   "segments": [{"kind": "text", "tokens": 64}, {"kind": "vision", "grid": [14, 14]}, ...]
// Vision tokens are patches in row-major order (grid [rows, cols]). Each head
// shows one of MMInference's inter-modality behaviours, drawn from a seeded mix:
//   no_boundary  one vertical-slash-like pattern over the whole sequence;
//   q_boundary   vision queries: Grid (the patches of the same column: offsets
//                0, W, 2W, ..., W = grid width) and weak sinks; text queries:
//                sinks + local band + verticals;
//   k_boundary   every query ignores the vision keys (a key-axis boundary) and
//                attends the same text keys: sinks and text verticals;
//   2d_boundary  vision -> vision Grid, vision -> text ignored, text -> vision
//                vertical lines (each image row's first patch), text -> text local.
// Causal. Same construction as long_context (feature blocks, rotation).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/patterns.h"
#include "kernels/tensor.h"

namespace attnsim {

class JsonReader;
struct WorkloadSpec;

struct MultimodalParams {
  uint64_t seed = 1;
  std::vector<Segment> segments;  // in order (start filled in)
  double mix_no_boundary = 1, mix_q_boundary = 1, mix_k_boundary = 1, mix_2d_boundary = 1;
  int sink_tokens = 4;
  double sink_strength = 8;
  double local_strength = 8;
  double grid_strength = 7;        // logit between patches of the same column (one image)
  double vertical_density = 1.0 / 64;
  double vertical_strength = 7;
  double suppress_strength = 12;   // logit penalty of an ignored modality region
  double noise = 0.5;
  double value_mean = 1.0;
};

const std::vector<std::string>& multimodal_kinds();  // no_boundary, q_boundary, k_boundary, 2d_boundary
std::string multimodal_head_kind(const MultimodalParams& p, int batch, int layer, int head);

// Generates Q, K, V (seq x dim, dim >= 32) of one head; seq = the segments' total.
void generate_multimodal_head(const MultimodalParams& p, const SegmentMap& segs, int dim, int batch, int layer,
                              int head, MatF& q, MatF& k, MatF& v);

// Reads "segments" (and checks they add up to seq_len) and the generator's
// parameters from a workload's data object.
void read_multimodal(JsonReader& d, int seq_len, MultimodalParams& p);
nlohmann::json multimodal_to_json(const MultimodalParams& p);

// The token -> modality map of a workload: its segments for "multimodal",
// one text segment otherwise.
std::shared_ptr<const SegmentMap> workload_segments(const WorkloadSpec& w);

}  // namespace attnsim
