#pragma once
// Long-context causal synthetic attention (data kind "long_context"): each
// head shows one of the structures MInference finds in long-context LLMs —
// A-shape (sinks + a local band), vertical-slash (sinks + scattered vertical
// columns + periodic slash bands), block-sparse (64-token blocks sharing a
// topic attend each other) or dense (no structure) — drawn per head from a
// seeded mix. Q and K are feature blocks whose dot product is the logit
// structure, rotated by a random orthogonal matrix and scaled by d^(1/4) on
// each side, so q·k/sqrt(d) is the logit (docs/workloads.md, docs/dynamiqk.md).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/tensor.h"

namespace attnsim {

class JsonReader;

struct LongContextParams {
  uint64_t seed = 1;
  // Relative weights of the head kinds (a head's kind is drawn from them).
  double mix_a_shape = 1, mix_vertical_slash = 1, mix_block_sparse = 1, mix_dense = 0.25;
  int sink_tokens = 4;             // keys every query attends (token 0 ..)
  double sink_strength = 10;       // their logit
  double local_strength = 10;      // A-shape: logit of the local band at distance 0 (band width ~ seq / (8 sqrt(strength)))
  double vertical_density = 1.0 / 256;  // vertical-slash: share of key columns that are verticals
  double vertical_strength = 9;    // their logit
  double slash_strength = 8;       // vertical-slash: logit of the periodic slash bands
  int topic_blocks = 4;            // block-sparse: key blocks sharing a row block's topic
  double topic_strength = 6;       // their logit
  double noise = 0.5;              // standard deviation of the unstructured logits
  double value_mean = 1.0;         // spread of V's head-wide mean
};

const std::vector<std::string>& long_context_kinds();  // a_shape, vertical_slash, block_sparse, dense

// The kind of head (batch, layer, head): deterministic from the seed and the mix.
std::string long_context_head_kind(const LongContextParams& p, int batch, int layer, int head);

// Generates Q, K, V (seq x dim, dim >= 32) for one (batch, layer, head).
void generate_long_context_head(const LongContextParams& p, int seq, int dim, int batch, int layer, int head, MatF& q,
                                MatF& k, MatF& v);

// Reads the generator's parameters from a workload's data object (ranges
// checked; "mix" is an object of the four kinds' weights, at least one > 0).
void read_long_context(JsonReader& d, int seq_len, int head_dim, LongContextParams& p);
nlohmann::json long_context_to_json(const LongContextParams& p);

namespace gen {

uint64_t splitmix64(uint64_t x);

// Seeded uniforms and Box–Muller normals of our own (std distributions are
// implementation-defined; reports must not depend on the library).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  double uniform() { return static_cast<double>(splitmix64(state_++) >> 11) * 0x1.0p-53; }
  double normal();
  int below(int n) { return std::min(n - 1, static_cast<int>(uniform() * n)); }

 private:
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

uint64_t head_seed(uint64_t seed, uint64_t salt, int batch, int layer, int head);

// Fejér-weighted Fourier features of period `period` on `pairs` frequency
// pairs written to columns [col, col + 2 pairs): q-side scaled so that
// q_i·k_j = strength * g(i - j), g(0) = 1, g >= -1/pairs, a bump of width
// ~ period / (pairs sqrt(strength)) repeating every `period` (own model).
void fejer_features(MatD& qf, MatD& kf, int col, int pairs, double period, double strength,
                    const std::vector<double>* q_scale = nullptr);

// Random orthogonal d x d (Householder QR of a Gaussian matrix).
MatD random_rotation(int d, Rng& rng);

// Q = qf R d^(1/4), K = kf R d^(1/4) (float), V = mean + unit-variance uniform noise.
void finish_head(const MatD& qf, const MatD& kf, double value_mean, Rng& rng, MatF& q, MatF& k, MatF& v);

// Unstructured logits of standard deviation `noise` on columns [col, min(dim, col + 32)).
void add_noise(MatD& qf, MatD& kf, int col, double noise, Rng& rng);

}  // namespace gen
}  // namespace attnsim
