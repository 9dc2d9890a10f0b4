#pragma once
// SpAtten's top-k engine (HPCA'21 §IV-B; public code mit-han-lab/spatten):
// quick-select with a comparator array of parallelism P. Each round
// partitions the current candidates around a pivot in ceil(n / P) + 3 cycles;
// when the k-th value is found, a prefix sum over the "equal" flags keeps the
// first ties in index order, so exactly k indices come out, in index order.
// Round = pivot load 1 + one candidate row of P a cycle + compare and
// zero-eliminator registers 2 (the "+ 3" of SpAtten's TopKLatencyModel.scala);
// emit (own model, the same stages) = ceil(n / P) + 2. The clocked datapath
// in models/spatten/topk_engine_cycle.h counts the same cycles.
#include <cstdint>
#include <vector>

namespace attnsim {

struct TopK {
  std::vector<int> indices;  // exactly k, ascending
  int rounds = 0;            // partition rounds the engine ran
  int64_t cycles = 0;        // Σ (ceil(n_round / P) + 3), plus the emit pass ceil(n / P) + 2
};

// The pivot of each round, a position in the current candidate list (in
// index order):
// * random (default): a pseudo-random position, splitmix64 of the round
//   number modulo the candidates (deterministic: the same values give the
//   same rounds). SpAtten's latency model (TopKLatencyModel.scala) draws a
//   uniform random pivot; its RTL (QuickSelect.scala, RandomPivot) samples
//   one from a hashed row counter. Expected rounds O(log n) on any input.
// * middle: the middle candidate; cheap, but quadratic on inputs such as an
//   organ-pipe score vector (n / 2 rounds for k = n / 2).
// JSON: "random" | "middle".
enum class TopKPivot { random, middle };
const char* topk_pivot_name(TopKPivot p);
int64_t topk_pivot_position(TopKPivot rule, int round, int64_t candidates);

// k is clamped to [0, n].
TopK topk_quickselect(const std::vector<double>& values, int k, int parallelism,
                      TopKPivot pivot = TopKPivot::random);

}  // namespace attnsim
