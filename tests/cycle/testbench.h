#pragma once
// Shared pieces of the cycle-accuracy tests: a TLM initiator thread that runs
// a test body (sending ComputeJobs through b_transport), random tiles with
// the mask patterns that stress the arrays, and value comparisons.
#include <gtest/gtest.h>
#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/jobs.h"
#include "common/timing.h"
#include "config/arch_config.h"
#include "kernels/attention.h"

namespace attnsim::cycle_test {

// A thread that runs a test body, then stops the simulation (the models'
// clocks would otherwise run for ever).
struct TestThread : sc_core::sc_module {
  std::function<void()> body;
  SC_HAS_PROCESS(TestThread);
  explicit TestThread(sc_core::sc_module_name n) : sc_module(n) {
    SC_THREAD(main);
    set_stack_size(64 << 20);  // Eigen in the functional kernels
  }
  void main() {
    try {
      if (body) body();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception in the testbench thread: " << e.what();
    }
    sc_core::sc_stop();
  }
};

// The initiator: a test thread that sends ComputeJobs through b_transport.
struct Bench : TestThread {
  tlm_utils::simple_initiator_socket<Bench> socket;
  explicit Bench(sc_core::sc_module_name n) : TestThread(n), socket("socket") {}
  // Bound to the unit under test.
  template <class Unit>
  Bench(sc_core::sc_module_name n, Unit& unit) : Bench(n) {
    socket.bind(unit.socket);
  }
  // Sends one job; returns the simulated time it took (a cycle-accurate
  // unit's time passes inside b_transport).
  sc_core::sc_time send(ComputeJob& job) {
    const sc_core::sc_time t0 = sc_core::sc_time_stamp();
    send_job(socket, job);
    return sc_core::sc_time_stamp() - t0;
  }
};

inline void run_bench(Bench& bench, std::function<void()> body) {
  bench.body = std::move(body);
  sc_core::sc_start();
}

using Rng = std::mt19937_64;

// Random-tile counts are for optimised builds; debug and sanitizer builds run
// a fifth of them to stay within the test timeout.
inline int tile_count(int optimised) {
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  return optimised;
#else
  return std::max(50, optimised / 5);
#endif
}

inline int uniform_int(Rng& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
inline double uniform_real(Rng& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
template <class T>
const T& pick(Rng& rng, const std::vector<T>& v) {
  return v[static_cast<size_t>(uniform_int(rng, 0, static_cast<int>(v.size()) - 1))];
}

inline MatF random_matrix(Rng& rng, int rows, int cols, double amplitude) {
  MatF m(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m(i, j) = static_cast<float>(uniform_real(rng, -amplitude, amplitude));
  return m;
}

// Mask patterns: each row of the tile drawn from one of them.
enum class RowKind { empty, full, single, uniform, bubbles, segment_ends, stride, window };

inline std::vector<int32_t> mask_row(Rng& rng, RowKind kind, int cols, int width, double density, int allowed) {
  // `allowed`: columns [0, allowed) may be kept (causal rows keep fewer).
  std::vector<int32_t> r;
  const int n = std::min(cols, allowed);
  if (n <= 0) return r;
  switch (kind) {
    case RowKind::empty: break;
    case RowKind::full:
      for (int j = 0; j < n; ++j) r.push_back(j);
      break;
    case RowKind::single: r.push_back(uniform_int(rng, 0, n - 1)); break;
    case RowKind::uniform:
      for (int j = 0; j < n; ++j)
        if (uniform_real(rng, 0, 1) < density) r.push_back(j);
      break;
    case RowKind::bubbles: {  // a few nonzeros per segment, far apart
      for (int s = 0; s * width < n; ++s) {
        if (uniform_int(rng, 0, 2) == 0) continue;
        const int k = uniform_int(rng, 1, 3);
        for (int t = 0; t < k; ++t) {
          const int j = s * width + uniform_int(rng, 0, width - 1);
          if (j < n) r.push_back(j);
        }
      }
      break;
    }
    case RowKind::segment_ends:  // first and last column of segments: the longest bubbles
      for (int s = 0; s * width < n; ++s) {
        r.push_back(s * width);
        if (std::min(n, (s + 1) * width) - 1 > s * width) r.push_back(std::min(n, (s + 1) * width) - 1);
      }
      break;
    case RowKind::stride: {  // every g-th column
      const int g = uniform_int(rng, 2, std::max(2, width / 2));
      for (int j = uniform_int(rng, 0, g - 1); j < n; j += g) r.push_back(j);
      break;
    }
    case RowKind::window: {  // a local band
      const int w = uniform_int(rng, 1, std::max(1, width));
      const int c = uniform_int(rng, 0, n - 1);
      for (int j = std::max(0, c - w); j <= std::min(n - 1, c + w); ++j) r.push_back(j);
      break;
    }
  }
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  return r;
}

// A mask of `rows` x `cols`: a tile-wide row kind (or a mix), optionally causal
// with the tile starting at query `row0`.
inline CsrMask random_mask(Rng& rng, int rows, int cols, int width, bool causal, int row0) {
  static const std::vector<double> densities = {0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0};
  const double density = pick(rng, densities);
  const int mode = uniform_int(rng, 0, 9);  // 0..7: one kind for the tile; 8, 9: a mix per row
  CsrMask m;
  m.cols = cols;
  for (int i = 0; i < rows; ++i) {
    const RowKind kind = static_cast<RowKind>(mode < 8 ? mode : uniform_int(rng, 0, 7));
    const int allowed = causal ? row0 + i + 1 : cols;
    m.add_row(mask_row(rng, kind, cols, width, density, allowed));
  }
  return m;
}

struct Formats {
  AttentionNumerics num;
  std::string name;
};

// Data / probability formats and exp units the arrays run; fixed point is
// compared bit for bit.
inline Formats random_fixed_numerics(Rng& rng, int d) {
  static const std::vector<std::pair<std::string, std::string>> formats = {
      {"fixed16.8", "fixed16.14"}, {"fixed12.6", "fixed12.10"}, {"fixed8.4", "fixed8.6"}, {"fixed20.12", "fixed18.16"}};
  static const std::vector<std::string> exps = {"exact", "pwl6", "pwl4"};
  const auto& f = pick(rng, formats);
  const std::string& x = pick(rng, exps);
  Formats out;
  out.num.data = NumberFormat::parse(f.first);
  out.num.prob = NumberFormat::parse(f.second);
  out.num.exp = ExpUnit::parse(x);
  out.num.scale = uniform_int(rng, 0, 2) ? 1.0 / std::sqrt(static_cast<double>(d)) : uniform_real(rng, 0.05, 1.0);
  out.name = f.first + "/" + f.second + "/" + x;
  return out;
}

inline Formats fp32_numerics(Rng& rng, int d) {
  Formats out;
  out.num.data = NumberFormat::parse("fp32");
  out.num.prob = NumberFormat::parse("fp32");
  out.num.exp = ExpUnit::parse(uniform_int(rng, 0, 1) ? "exact" : "pwl6");
  out.num.scale = 1.0 / std::sqrt(static_cast<double>(d));
  out.name = "fp32/" + out.num.exp.name();
  return out;
}

// Counts mismatching elements (exact, or within a relative tolerance) and
// describes the first.
struct Diff {
  int64_t count = 0;
  std::string first;
  void add(const std::string& what, int64_t i, double got, double want, double tol) {
    const bool same = tol == 0 ? got == want : std::abs(got - want) <= tol * std::max(1.0, std::abs(want));
    if (same) return;
    if (count++ == 0) {
      std::ostringstream s;
      s.precision(17);
      s << what << "[" << i << "] = " << got << ", functional kernel " << want;
      first = s.str();
    }
  }
};

inline Diff compare_results(const MaskedAttention& got, const MaskedAttention& want, double tol) {
  Diff d;
  if (got.scores.size() != want.scores.size() || got.output.rows() != want.output.rows() ||
      got.output.cols() != want.output.cols()) {
    d.count = 1;
    d.first = "result shapes differ";
    return d;
  }
  for (size_t i = 0; i < want.scores.size(); ++i) d.add("score", i, got.scores[i], want.scores[i], tol);
  for (size_t i = 0; i < want.probs.size(); ++i) d.add("prob", i, got.probs[i], want.probs[i], tol);
  for (Eigen::Index i = 0; i < want.output.size(); ++i)
    d.add("output", i, got.output.data()[i], want.output.data()[i], tol);
  return d;
}

}  // namespace attnsim::cycle_test
