#include "elsa/elsa_unit.h"

#include <algorithm>

#include "elsa/elsa_timing.h"

namespace attnsim {

ElsaUnit::ElsaUnit(sc_core::sc_module_name name, const ElsaConfig& config, int head_dim, double clock_ghz)
    : JobUnit<MaskJob>(name, clock_ghz),
      config_(config),
      projection_(elsa_projection(config.selection.hash_bits, head_dim, config.selection.seed)),
      cos_table_(elsa_cos_table(config.selection.hash_bits)),
      log_inv_p_(elsa_log_inv_p(config.selection.threshold)) {}

void ElsaUnit::run(MaskJob& job) {
  const int seq = static_cast<int>(job.head->k.rows()), d = static_cast<int>(job.head->k.cols());
  const bool first = head_key_ != std::make_pair(job.layer, job.head_index);
  if (first) {  // the head's keys are hashed once (and its queries with them: same values, one pass)
    head_key_ = {job.layer, job.head_index};
    if (!job.known_mask) {
      keys_ = elsa_hash(job.head->k, projection_);
      queries_ = elsa_hash(job.head->q, projection_);
    }
  }
  if (job.known_mask) job.prediction.mask = *job.known_mask;
  else job.prediction.mask = elsa_select(queries_, job.row0, job.rows, keys_, cos_table_, log_inv_p_, job.scale, job.causal);
  int64_t pairs = 0;
  for (int i = 0; i < job.rows; ++i) pairs += job.causal ? std::min(seq, job.row0 + i + 1) : seq;
  UnitWork w = first ? elsa_hash_work(seq, d, config_) : UnitWork{};
  w.merge(elsa_hash_work(job.rows, d, config_));
  w.merge(elsa_select_work(pairs, job.prediction.mask.nnz(), config_));
  job.work = w;
  // Buffers (own model): the key hashes and norms (k/8 + 2 bytes per key)
  // are read once per query row's pass pair; the mask bits are written.
  const int64_t key_record = config_.selection.hash_bits / 8 + 2;
  job.work.sram_read_bytes = {{"k", 2 * pairs * key_record}};
  job.work.sram_write_bytes = {{"score", (static_cast<int64_t>(job.rows) * seq + 7) / 8}};
  job.k_keys_read = first ? seq : 0;  // the hash unit reads K once per head
}

}  // namespace attnsim
