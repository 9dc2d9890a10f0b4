#pragma once
// Seeded synthetic Q/K/V whose attention has the structure of a trained
// encoder's (see docs/workloads.md): a few strong "sink" keys, a local band,
// content clusters, and heavy-tailed key norms; each head mixes these with its
// own random weights.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "kernels/tensor.h"

namespace attnsim {

struct SyntheticParams {
  uint64_t seed = 1;
  int sink_tokens = 3;          // keys that attract attention from all queries (token 0 is one)
  double sink_strength = 2.0;   // logit boost of a sink key
  int local_window = 8;         // width (tokens) of the local band
  double local_strength = 2.0;  // logit boost at distance 0
  int clusters = 16;            // content clusters
  int phrase_len = 6;           // mean run of tokens in one cluster
  double content_strength = 2.0;  // logit boost between tokens of one cluster
  double key_norm_sigma = 0.35;  // log-normal spread of key norms (heavy tail)
  double noise = 1.0;            // standard deviation of the unstructured part of the logits
  double value_mean = 1.0;       // spread of V's head-wide mean component
};

// Generates Q, K, V (seq x dim) for one (batch, layer, head).
void generate_head(const SyntheticParams& p, int seq, int dim, int batch, int layer, int head,
                   MatF& q, MatF& k, MatF& v);

}  // namespace attnsim
