#include "run/accuracy_check.h"

#include <algorithm>

#include "kernels/attention.h"

namespace attnsim {

AccuracyCheck::AccuracyCheck(const WorkloadSpec& workload, int query_rows, int accuracy_rows, FunctionalCache* cache)
    : workload_(workload),
      query_rows_(query_rows),
      stride_(accuracy_rows > 0 ? (workload.seq_len + accuracy_rows - 1) / accuracy_rows : 1),
      cache_(cache) {}

const CachedHead* AccuracyCheck::cached_head(int layer, int head_index) {
  const int S = workload_.seq_len, QT = query_rows_;
  cached_.reset();
  if (cache_) cached_ = cache_->load(layer, head_index, (S + QT - 1) / QT, QT, S);
  return cached_ ? &*cached_ : nullptr;
}

std::shared_ptr<const void> AccuracyCheck::prepare_head(const HeadTensors& head) const {
  // With a functional cache most heads are hits, whose tiles need no
  // reference: it is computed at the head's end then, only when needed.
  if (stride_ <= 1 || cache_) return nullptr;
  return make_reference(head);
}

// Batches of neighbouring sampled rows (bounded memory: batch x seq
// probabilities; causal batches take only the keys up to their last row).
std::shared_ptr<const AccuracyCheck::SampledReference> AccuracyCheck::make_reference(const HeadTensors& head) const {
  auto ref = std::make_shared<SampledReference>();
  const int S = workload_.seq_len;
  for (int first = 0; first < S; first += kBatch * stride_) {
    std::vector<int> rows;
    for (int r = first; r < std::min(S, first + kBatch * stride_); r += stride_) rows.push_back(r);
    MatF q(static_cast<Eigen::Index>(rows.size()), head.q.cols());
    for (size_t r = 0; r < rows.size(); ++r) q.row(static_cast<Eigen::Index>(r)) = head.q.row(rows[r]);
    ref->batches.push_back(dense_reference(q, head.k, head.v, workload_.scale(), workload_.causal, rows));
  }
  return ref;
}

void AccuracyCheck::head_begin(const HeadTensors& head, int, int, std::shared_ptr<const void> prepared) {
  head_ = &head;
  reference_ = std::static_pointer_cast<const SampledReference>(prepared);
  const int S = workload_.seq_len, QT = query_rows_;
  accuracy_.assign((S + QT - 1) / QT, AccuracyStats{});
  sampled_.clear();
  record_ = CachedHead{};
}

void AccuracyCheck::tile(const TileEvent& t) {
  AccuracyStats& a = accuracy_[t.tile];
  if (t.known) {
    a = t.known->accuracy;
    return;
  }
  const int S = workload_.seq_len, d = workload_.head_dim;
  const bool causal = workload_.causal;
  // A structured mask is listed only where every row is compared.
  CsrMask listed;
  if (t.shape && stride_ == 1) listed = t.shape->enumerate();
  const CsrMask& mask = t.shape ? listed : *t.mask;
  const MatF& output = t.compute->result.output;
  if (t.shape)
    a.add_mask_counts(t.shape->rows, t.shape->cols, t.shape->nnz(), causal, t.row0);
  else
    a.add_mask(mask, causal, t.row0);
  // On every row, or on every stride-th row of the head: those rows'
  // references are computed together at the head's end (one GEMM instead of
  // a pass over K and V per row).
  if (stride_ == 1 && !t.row_active) {
    a.add_values(output, dense_reference(*t.q_tile, head_->k, head_->v, workload_.scale(), causal, t.row0), mask);
  } else if (stride_ == 1) {  // only the rows still computed (pruning)
    const DenseReference ref = dense_reference(*t.q_tile, head_->k, head_->v, workload_.scale(), causal, t.row0);
    std::vector<int> keep;
    for (int i = 0; i < t.rows; ++i)
      if ((*t.row_active)[i]) keep.push_back(i);
    DenseReference sub_ref;
    sub_ref.probs.resize(static_cast<Eigen::Index>(keep.size()), S);
    sub_ref.output.resize(static_cast<Eigen::Index>(keep.size()), d);
    MatF sub_out(static_cast<Eigen::Index>(keep.size()), d);
    CsrMask sub_mask;
    sub_mask.cols = S;
    for (size_t r = 0; r < keep.size(); ++r) {
      const int i = keep[r];
      sub_ref.probs.row(static_cast<Eigen::Index>(r)) = ref.probs.row(i);
      sub_ref.output.row(static_cast<Eigen::Index>(r)) = ref.output.row(i);
      sub_out.row(static_cast<Eigen::Index>(r)) = output.row(i);
      sub_mask.add_row(std::vector<int32_t>(mask.indices.begin() + mask.indptr[i], mask.indices.begin() + mask.indptr[i + 1]));
    }
    a.add_values(sub_out, sub_ref, sub_mask);
  } else {
    for (int i = (stride_ - t.row0 % stride_) % stride_; i < t.rows; i += stride_) {
      if (t.row_active && !(*t.row_active)[i]) continue;  // pruned rows have no output to compare
      SampledRow sr;
      sr.tile = t.tile;
      sr.row = t.row0 + i;
      sr.output.assign(output.row(i).data(), output.row(i).data() + d);
      if (t.shape)
        t.shape->row_keys(t.row0 + i, sr.keys);
      else
        sr.keys.assign(mask.indices.begin() + mask.indptr[i], mask.indices.begin() + mask.indptr[i + 1]);
      sampled_.push_back(std::move(sr));
    }
  }
  if (cache_) {
    record_.tiles.push_back({mask, {}});  // its accuracy is set at the head's end
    if (t.tile == 0 && t.mask_job) record_.head_info = t.mask_job->head_info;
  }
}

// The sampled rows against their dense reference, added to their tiles'
// counters in row order.
void AccuracyCheck::add_sampled_rows() {
  if (sampled_.empty()) return;
  if (!reference_) reference_ = make_reference(*head_);
  const int S = workload_.seq_len, d = workload_.head_dim;
  for (const SampledRow& sr : sampled_) {
    const int i = sr.row / stride_;
    const DenseReference& batch = reference_->batches[i / kBatch];
    CsrMask one;
    one.cols = S;
    one.add_row(sr.keys);
    DenseReference row_ref;
    row_ref.probs = batch.probs.row(i % kBatch);
    row_ref.output = batch.output.row(i % kBatch);
    const MatF out = Eigen::Map<const MatF>(sr.output.data(), 1, d);
    accuracy_[sr.tile].add_values(out, row_ref, one);
  }
}

void AccuracyCheck::head_end(int layer, int head_index, PeriodStats& layer_stats) {
  add_sampled_rows();
  if (stride_ > 1)
    for (auto& a : accuracy_) a.sampled = true;  // every stride-th row: an estimate
  for (size_t t = 0; t < accuracy_.size(); ++t) {
    layer_stats.accuracy.merge(accuracy_[t]);
    layer_stats.dense_macs += 2 * accuracy_[t].allowed * workload_.head_dim;
    if (cache_ && !cached_) record_.tiles[t].accuracy = accuracy_[t];
  }
  if (cache_ && !cached_) cache_->store(layer, head_index, record_);
}

}  // namespace attnsim
