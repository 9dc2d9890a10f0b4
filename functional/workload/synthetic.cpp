#include "workload/synthetic.h"

#include <cmath>
#include <random>

namespace attnsim {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Box-Muller on our own uniform draws: std::normal_distribution's algorithm
// is implementation-defined, and reports must not change with the library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  double uniform() { return static_cast<double>(splitmix64(state_++) >> 11) * 0x1.0p-53; }
  double normal() {  // both outputs of each Box-Muller pair are used
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
    const double r = std::sqrt(-2 * std::log(u1));
    spare_ = r * std::sin(2 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2 * M_PI * u2);
  }
  int below(int n) { return static_cast<int>(uniform() * n); }

 private:
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace

// Own model. Logit structure: q_i·k_j = w_s·sink(j) + w_l·Σ_f cos(ω_f (i-j)) / F
// + w_c·[cluster(i) = cluster(j)]·norm(j) + noise, built as feature blocks of
// q and k, then rotated by a random orthogonal matrix so no single dimension
// is an outlier, and scaled by d^(1/4) on each side so that q·k/sqrt(d) gives
// the logits above.
void generate_head(const SyntheticParams& p, int seq, int dim, int batch, int layer, int head,
                   MatF& q, MatF& k, MatF& v) {
  Rng rng(splitmix64(p.seed * 0x100000001b3ULL ^ splitmix64((static_cast<uint64_t>(batch) << 40) ^
                                                            (static_cast<uint64_t>(layer) << 20) ^
                                                            static_cast<uint64_t>(head))));
  // Each head weights the three structures differently: some are local, some
  // content-driven, some sink-heavy, as in trained BERT heads.
  const double w_sink = 0.5 + rng.uniform();
  const double w_local = 0.5 + rng.uniform();
  const double w_content = 0.5 + rng.uniform();

  const int freqs = std::max(1, std::min(8, dim / 8));
  const int pos_dims = 2 * freqs;
  const int sink_dim = pos_dims;
  const int content0 = pos_dims + 1;
  const int content_dims = std::max(1, dim - content0);

  MatD qf = MatD::Zero(seq, dim), kf = MatD::Zero(seq, dim);
  // Local band: cos(ω(i-j)) = cos ωi cos ωj + sin ωi sin ωj.
  std::vector<double> omega(freqs);
  for (auto& w : omega) w = M_PI / p.local_window * (0.1 + 0.9 * rng.uniform());
  const double a_local = std::sqrt(w_local * p.local_strength / freqs);
  // Sinks: token 0 plus random positions.
  std::vector<double> sink(seq, 0.0);
  sink[0] = 1.0;
  for (int t = 1; t < p.sink_tokens && seq > 1; ++t) sink[1 + rng.below(seq - 1)] = 0.5 + 0.5 * rng.uniform();
  // Content: a Markov chain of clusters with mean run phrase_len.
  MatD centroid(p.clusters, content_dims);
  for (Eigen::Index i = 0; i < centroid.size(); ++i) centroid.data()[i] = rng.normal() / std::sqrt(content_dims);
  int cluster = rng.below(p.clusters);
  const double a_content = std::sqrt(w_content * p.content_strength);

  // Σ_c nq·nk over content_dims has standard deviation p.noise.
  const double noise_scale = std::sqrt(p.noise) / std::pow(content_dims, 0.25);
  for (int t = 0; t < seq; ++t) {
    for (int f = 0; f < freqs; ++f) {
      qf(t, 2 * f) = kf(t, 2 * f) = a_local * std::cos(omega[f] * t);
      qf(t, 2 * f + 1) = kf(t, 2 * f + 1) = a_local * std::sin(omega[f] * t);
    }
    qf(t, sink_dim) = std::sqrt(w_sink * p.sink_strength) * (0.7 + 0.6 * rng.uniform());
    kf(t, sink_dim) = std::sqrt(w_sink * p.sink_strength) * sink[t];
    if (rng.uniform() < 1.0 / p.phrase_len) cluster = rng.below(p.clusters);
    const double key_norm = std::exp(p.key_norm_sigma * rng.normal());
    for (int c = 0; c < content_dims && content0 + c < dim; ++c) {
      const double nq = noise_scale * rng.normal();
      const double nk = noise_scale * rng.normal();
      qf(t, content0 + c) = a_content * centroid(cluster, c) + nq;
      kf(t, content0 + c) = key_norm * (a_content * centroid(cluster, c) + nk);
    }
  }
  // Random rotation (Householder QR of a Gaussian matrix).
  MatD g(dim, dim);
  for (Eigen::Index i = 0; i < g.size(); ++i) g.data()[i] = rng.normal();
  const MatD rot = Eigen::HouseholderQR<MatD>(g).householderQ();
  const double s = std::pow(static_cast<double>(dim), 0.25);
  q = ((qf * rot) * s).cast<float>();
  k = ((kf * rot) * s).cast<float>();
  // V: a head-wide mean (trained values share a large common component) plus
  // unit noise, so that averaging many rows does not cancel to zero.
  Eigen::RowVectorXd mean(dim);
  for (int c = 0; c < dim; ++c) mean[c] = p.value_mean * rng.normal();
  MatD vd(seq, dim);
  for (Eigen::Index i = 0; i < vd.size(); ++i) vd.data()[i] = rng.normal();
  vd.rowwise() += mean;
  v = vd.cast<float>();
}

}  // namespace attnsim
