#include "spatten/spatten_pruner.h"

namespace attnsim {

SpattenPruner::SpattenPruner(sc_core::sc_module_name name, const SpattenPrunerConfig& config, const WorkloadSpec& workload,
                             double clock_ghz, bool cycle_accurate)
    : JobUnit<MaskJob>(name, clock_ghz),
      config_(config),
      workload_(workload),
      pruner_(workload.seq_len, workload.batch, workload.heads, workload.layers, config.token_keep, config.head_keep,
              config.topk_parallelism, config.topk_pivot) {
  if (cycle_accurate) {
    engine_ = std::make_unique<TopKEngineCycle>("topk_engine", config.topk_parallelism, clock_ghz, config.topk_pivot);
    pruner_.set_topk_engine([this](const std::vector<double>& values, int k, int) { return engine_->select(values, k); });
  }
}

void SpattenPruner::run(MaskJob& job) {
  job.work = UnitWork{};
  if (job.observed) {  // importance accumulation rides on the softmax and AV outputs: no extra cycles
    pruner_.observe(job.head_index, *job.observed_mask, *job.observed);
    // Energy: a token-score add per probability, a head-score add per output value.
    job.work.counts["add_ops"] = job.observed_mask->nnz() + job.observed->output.size();
    return;
  }
  // Top-k of tokens and heads at the layer boundary (SpAtten §IV-B): the
  // quick-select cycles on the real importance scores.
  const Cycles topk = job.row0 == 0 ? pruner_.begin_layer(job.layer) : 0;
  if (job.known_mask) {
    job.prediction.mask = *job.known_mask;
    job.prediction.row_active.assign(job.rows, 0);
    for (int i = 0; i < job.rows; ++i) job.prediction.row_active[i] = job.known_mask->row_nnz(i) > 0;
  } else {
    job.prediction.mask = pruner_.tile_mask(job.head_index, job.row0, job.rows, job.causal,
                                            job.prediction.row_active);
  }
  job.work.cycles = topk;
  job.work.stages = {{"topk", topk}};
  // Energy (own model): all P comparators of the top-k engine busy every cycle it runs.
  if (topk) job.work.counts["compare_ops"] = topk * config_.topk_parallelism;
  if (job.row0 == 0) {
    const int batch = job.head_index / workload_.heads;
    const bool alive = pruner_.head_alive(job.head_index);
    job.head_info = {{"alive", alive}, {"tokens_kept", alive ? pruner_.tokens_kept(batch) : 0}};
    job.work.counts["heads_kept"] = alive ? 1 : 0;
    job.work.counts["heads"] = 1;
    job.work.counts["tokens_kept"] = alive ? pruner_.tokens_kept(batch) : 0;
    if (job.dumping)  // the state this layer's decisions were made on, and the decisions
      job.dump_info = {{"head_alive", alive},
                       {"tokens_alive", pruner_.tokens_alive(batch)},
                       {"token_importance", pruner_.token_importance(batch)},
                       {"head_importance", pruner_.head_importance(job.head_index)}};
  }
}

}  // namespace attnsim
