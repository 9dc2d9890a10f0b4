// Google Benchmark of the functional kernels on a BERT-base-shaped tile
// (64 queries x 512 keys, head dim 64).
#include <benchmark/benchmark.h>

#include "kernels/attention.h"
#include "kernels/pack_split.h"
#include "kernels/sanger_predict.h"
#include "workload/synthetic.h"

using namespace attnsim;

namespace {
struct Head {
  MatF q, k, v;
  Head() { generate_head(SyntheticParams{}, 512, 64, 0, 0, 0, q, k, v); }
};
const Head& head() {
  static const Head h;
  return h;
}
PredictorParams params() {
  PredictorParams p;
  p.scale = 0.125;
  return p;
}
}  // namespace

static void BM_PredictTile(benchmark::State& state) {
  const HeadQuant hq = quantize_head(head().q, head().k, 4);
  for (auto _ : state) benchmark::DoNotOptimize(predict_tile(hq, 64, 64, params()));
  state.SetItemsProcessed(state.iterations() * 64 * 512 * 64);  // MACs
}
BENCHMARK(BM_PredictTile);

static void BM_PackSplit(benchmark::State& state) {
  const HeadQuant hq = quantize_head(head().q, head().k, 4);
  const Prediction p = predict_tile(hq, 64, 64, params());
  for (auto _ : state) benchmark::DoNotOptimize(pack_split(p.mask, 64, 16));
}
BENCHMARK(BM_PackSplit);

static void BM_MaskedAttentionFixed16(benchmark::State& state) {
  const HeadQuant hq = quantize_head(head().q, head().k, 4);
  const Prediction p = predict_tile(hq, 64, 64, params());
  const auto fmt = NumberFormat::parse("fixed16.8");
  const HeadOperands kv = prepare_operands(head().k, head().v, fmt);
  const MatF q = head().q.middleRows(64, 64);
  const AttentionNumerics num{fmt, NumberFormat::parse("fixed16.14"), ExpUnit::parse("pwl6"), 0.125};
  for (auto _ : state) benchmark::DoNotOptimize(masked_attention(q, kv, p.mask, num));
  state.counters["density"] = static_cast<double>(p.mask.nnz()) / (64 * 512);
}
BENCHMARK(BM_MaskedAttentionFixed16);

static void BM_DenseReference(benchmark::State& state) {
  const MatF q = head().q.middleRows(64, 64);
  for (auto _ : state) benchmark::DoNotOptimize(dense_reference(q, head().k, head().v, 0.125, false, 0));
}
BENCHMARK(BM_DenseReference);

BENCHMARK_MAIN();
