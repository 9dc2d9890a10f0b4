#include "workload/long_context.h"

#include <cmath>
#include <stdexcept>

#include "util/error.h"
#include "util/json_reader.h"

namespace attnsim {
namespace gen {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Marsaglia's polar method (no trigonometry), both outputs of a pair used.
double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u, v, s;
  do {
    u = 2 * uniform() - 1;
    v = 2 * uniform() - 1;
    s = u * u + v * v;
  } while (s >= 1 || s == 0);
  const double f = std::sqrt(-2 * std::log(s) / s);
  spare_ = v * f;
  has_spare_ = true;
  return u * f;
}

uint64_t head_seed(uint64_t seed, uint64_t salt, int batch, int layer, int head) {
  return splitmix64(seed * 0x100000001b3ULL ^ salt ^
                    splitmix64((static_cast<uint64_t>(batch) << 40) ^ (static_cast<uint64_t>(layer) << 20) ^
                               static_cast<uint64_t>(head)));
}

void fejer_features(MatD& qf, MatD& kf, int col, int pairs, double period, double strength,
                    const std::vector<double>* q_scale) {
  double norm = 0;
  for (int f = 1; f <= pairs; ++f) norm += 1.0 - static_cast<double>(f) / (pairs + 1);
  const int seq = static_cast<int>(qf.rows());
  for (int f = 1; f <= pairs; ++f) {
    const double w = 2 * M_PI * f / period;
    const double a = std::sqrt(strength * (1.0 - static_cast<double>(f) / (pairs + 1)) / norm);
    for (int t = 0; t < seq; ++t) {
      const double c = std::cos(w * t), s = std::sin(w * t);
      const double qs = q_scale ? (*q_scale)[t] : 1.0;
      qf(t, col + 2 * (f - 1)) = qs * a * c;
      qf(t, col + 2 * (f - 1) + 1) = qs * a * s;
      kf(t, col + 2 * (f - 1)) = a * c;
      kf(t, col + 2 * (f - 1) + 1) = a * s;
    }
  }
}

MatD random_rotation(int d, Rng& rng) {
  MatD g(d, d);
  for (Eigen::Index i = 0; i < g.size(); ++i) g.data()[i] = rng.normal();
  return Eigen::HouseholderQR<MatD>(g).householderQ();
}

void add_noise(MatD& qf, MatD& kf, int col, double noise, Rng& rng) {
  // At most 32 noise columns: the logit noise has the same spread, for fewer draws.
  const int dims = std::min(32, static_cast<int>(qf.cols()) - col);
  if (dims <= 0 || noise <= 0) return;
  // Σ over dims of nq·nk has standard deviation `noise`.
  const double s = std::sqrt(noise) / std::pow(static_cast<double>(dims), 0.25);
  for (Eigen::Index t = 0; t < qf.rows(); ++t)
    for (int c = col; c < col + dims; ++c) {
      qf(t, c) += s * rng.normal();
      kf(t, c) += s * rng.normal();
    }
}

void finish_head(const MatD& qf, const MatD& kf, double value_mean, Rng& rng, MatF& q, MatF& k, MatF& v) {
  const int dim = static_cast<int>(qf.cols()), seq = static_cast<int>(qf.rows());
  const MatF rot = (random_rotation(dim, rng) * std::pow(static_cast<double>(dim), 0.25)).cast<float>();
  q = qf.cast<float>() * rot;
  k = kf.cast<float>() * rot;
  Eigen::RowVectorXf mean(dim);
  for (int c = 0; c < dim; ++c) mean[c] = static_cast<float>(value_mean * rng.normal());
  // Unit-variance uniform noise (cheaper than normals; V only needs a spread).
  v.resize(seq, dim);
  for (Eigen::Index i = 0; i < v.size(); ++i) v.data()[i] = static_cast<float>(std::sqrt(3.0) * (2 * rng.uniform() - 1));
  v.rowwise() += mean;
}

}  // namespace gen

const std::vector<std::string>& long_context_kinds() {
  static const std::vector<std::string> k{"a_shape", "vertical_slash", "block_sparse", "dense"};
  return k;
}

std::string long_context_head_kind(const LongContextParams& p, int batch, int layer, int head) {
  gen::Rng rng(gen::head_seed(p.seed, 0x6b696e64ULL, batch, layer, head));
  const double w[4] = {p.mix_a_shape, p.mix_vertical_slash, p.mix_block_sparse, p.mix_dense};
  const double total = w[0] + w[1] + w[2] + w[3];
  double u = rng.uniform() * total;
  for (int i = 0; i < 4; ++i) {
    if (u < w[i]) return long_context_kinds()[i];
    u -= w[i];
  }
  for (int i = 3; i >= 0; --i)
    if (w[i] > 0) return long_context_kinds()[i];
  return "dense";
}

// Own model. Feature blocks (columns): [0, 2F) Fejér positional features (the
// local band, or the periodic slash bands), 2F the sink/vertical column,
// then content: block topics and noise.
void generate_long_context_head(const LongContextParams& p, int seq, int dim, int batch, int layer, int head, MatF& q,
                                MatF& k, MatF& v) {
  if (dim < 32) throw std::invalid_argument("long_context needs head_dim >= 32");
  const std::string kind = long_context_head_kind(p, batch, layer, head);
  gen::Rng rng(gen::head_seed(p.seed, 0x6c6f6e67ULL, batch, layer, head));
  const int F = dim >= 64 ? 16 : 8;
  const int sink_col = 2 * F, content0 = sink_col + 1, content_dims = dim - content0;
  MatD qf = MatD::Zero(seq, dim), kf = MatD::Zero(seq, dim);

  // Positional band: A-shape's local band (period 2 seq: no alias), the
  // vertical-slash head's bands repeating every `period` tokens (slashes at
  // offsets 0, P, 2P, ...), a weak band for block-sparse heads.
  if (kind == "a_shape") {
    gen::fejer_features(qf, kf, 0, F, 2.0 * seq, p.local_strength);
  } else if (kind == "vertical_slash") {
    const double period = std::max(64.0, seq * (0.125 + (1.0 / 3 - 0.125) * rng.uniform()));
    gen::fejer_features(qf, kf, 0, F, period, p.slash_strength);
  } else if (kind == "block_sparse") {
    gen::fejer_features(qf, kf, 0, F, 2.0 * seq, 0.25 * p.local_strength);
  }
  // Sinks and verticals: q has a constant 1, k the column's logit.
  if (kind != "dense") {
    const double sink = kind == "block_sparse" ? 0.5 * p.sink_strength : p.sink_strength;
    for (int t = 0; t < std::min(p.sink_tokens, seq); ++t) kf(t, sink_col) = sink;
    if (kind == "vertical_slash") {
      const int n = std::max(1, static_cast<int>(std::lround(p.vertical_density * seq)));
      for (int c = 0; c < n; ++c) {
        const int j = p.sink_tokens + rng.below(std::max(1, seq - p.sink_tokens));
        if (j < seq) kf(j, sink_col) = p.vertical_strength * (0.9 + 0.2 * rng.uniform());
      }
    }
    qf.col(sink_col).setOnes();
  }
  // Block topics: blocks of 64 tokens draw one of T topics; same-topic
  // tokens get topic_strength (orthonormal topic directions while T fits).
  if (kind == "block_sparse" && content_dims > 0) {
    const int nb = (seq + 63) / 64;
    const int topics = std::max(1, std::min(content_dims, nb / std::max(1, p.topic_blocks)));
    const double a = std::sqrt(p.topic_strength);
    for (int b = 0; b < nb; ++b) {
      const int t = rng.below(topics);
      for (int i = b * 64; i < std::min(seq, b * 64 + 64); ++i) {
        qf(i, content0 + t) = a;
        kf(i, content0 + t) = a;
      }
    }
  }
  gen::add_noise(qf, kf, content0, p.noise, rng);
  gen::finish_head(qf, kf, p.value_mean, rng, q, k, v);
}

void read_long_context(JsonReader& d, int seq_len, int head_dim, LongContextParams& p) {
  if (head_dim < 32) d.fail("kind", "long_context needs head_dim >= 32 (got " + std::to_string(head_dim) + ")");
  p.seed = static_cast<uint64_t>(d.integer("seed", 1, 0, INT64_MAX));
  {
    auto m = d.object("mix");
    p.mix_a_shape = m.number("a_shape", p.mix_a_shape, 0, 1e6);
    p.mix_vertical_slash = m.number("vertical_slash", p.mix_vertical_slash, 0, 1e6);
    p.mix_block_sparse = m.number("block_sparse", p.mix_block_sparse, 0, 1e6);
    p.mix_dense = m.number("dense", p.mix_dense, 0, 1e6);
    m.finish();
    if (p.mix_a_shape + p.mix_vertical_slash + p.mix_block_sparse + p.mix_dense <= 0)
      d.fail("mix", "at least one head kind needs a weight > 0");
  }
  p.sink_tokens = static_cast<int>(d.integer("sink_tokens", p.sink_tokens, 0, seq_len));
  p.sink_strength = d.number("sink_strength", p.sink_strength, 0, 100);
  p.local_strength = d.number("local_strength", p.local_strength, 0, 100);
  p.vertical_density = d.number("vertical_density", p.vertical_density, 0, 1);
  p.vertical_strength = d.number("vertical_strength", p.vertical_strength, 0, 100);
  p.slash_strength = d.number("slash_strength", p.slash_strength, 0, 100);
  p.topic_blocks = static_cast<int>(d.integer("topic_blocks", p.topic_blocks, 1, 1 << 20));
  p.topic_strength = d.number("topic_strength", p.topic_strength, 0, 100);
  p.noise = d.number("noise", p.noise, 0, 100);
  p.value_mean = d.number("value_mean", p.value_mean, 0, 100);
}

nlohmann::json long_context_to_json(const LongContextParams& p) {
  return {{"kind", "long_context"},
          {"seed", p.seed},
          {"mix",
           {{"a_shape", p.mix_a_shape},
            {"vertical_slash", p.mix_vertical_slash},
            {"block_sparse", p.mix_block_sparse},
            {"dense", p.mix_dense}}},
          {"sink_tokens", p.sink_tokens},
          {"sink_strength", p.sink_strength},
          {"local_strength", p.local_strength},
          {"vertical_density", p.vertical_density},
          {"vertical_strength", p.vertical_strength},
          {"slash_strength", p.slash_strength},
          {"topic_blocks", p.topic_blocks},
          {"topic_strength", p.topic_strength},
          {"noise", p.noise},
          {"value_mean", p.value_mean}};
}

}  // namespace attnsim
