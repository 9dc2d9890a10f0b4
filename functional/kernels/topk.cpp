#include "kernels/topk.h"

#include <algorithm>

namespace attnsim {

const char* topk_pivot_name(TopKPivot p) { return p == TopKPivot::middle ? "middle" : "random"; }

int64_t topk_pivot_position(TopKPivot rule, int round, int64_t candidates) {
  if (rule == TopKPivot::middle) return candidates / 2;
  uint64_t z = 0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(round) + 1);  // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<int64_t>(z % static_cast<uint64_t>(candidates));
}

TopK topk_quickselect(const std::vector<double>& values, int k, int parallelism, TopKPivot pivot_rule) {
  TopK out;
  const int n = static_cast<int>(values.size());
  k = std::max(0, std::min(k, n));
  auto pass = [&](int64_t m) { return (m + parallelism - 1) / parallelism; };
  const int64_t emit_latency = 2;  // compare and zero-eliminator registers of the emit pass
  if (k == 0 || n == 0) return out;
  if (k == n) {
    out.indices.resize(n);
    for (int i = 0; i < n; ++i) out.indices[i] = i;
    out.cycles = pass(n) + emit_latency;
    return out;
  }
  std::vector<int> cand(n);
  for (int i = 0; i < n; ++i) cand[i] = i;
  int want = k;  // how many of the largest the current candidates must supply
  double kth = 0;
  std::vector<int> larger, equal, smaller;
  while (true) {
    const double pivot = values[cand[topk_pivot_position(pivot_rule, out.rounds, static_cast<int64_t>(cand.size()))]];
    larger.clear();
    equal.clear();
    smaller.clear();
    for (int i : cand) (values[i] > pivot ? larger : values[i] == pivot ? equal : smaller).push_back(i);
    ++out.rounds;
    out.cycles += pass(static_cast<int64_t>(cand.size())) + 3;
    if (static_cast<int>(larger.size()) >= want) {
      cand.swap(larger);
    } else if (static_cast<int>(larger.size() + equal.size()) >= want) {
      kth = pivot;
      break;
    } else {
      want -= static_cast<int>(larger.size() + equal.size());
      cand.swap(smaller);
    }
  }
  // Emit: everything above the k-th value, then the first ties by index.
  int greater = 0;
  for (double v : values) greater += v > kth;
  int ties_left = k - greater;
  for (int i = 0; i < n; ++i) {
    if (values[i] > kth) out.indices.push_back(i);
    else if (values[i] == kth && ties_left > 0) out.indices.push_back(i), --ties_left;
  }
  out.cycles += pass(n) + emit_latency;
  return out;
}

}  // namespace attnsim
