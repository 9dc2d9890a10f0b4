#include "controller/pipeline.h"

#include <algorithm>

namespace attnsim {

void TilePipeline::issue_pending_store() {
  if (pending_store_ < 0) return;
  const Cycles start = std::max(dram_free_, pending_ready_);
  dram_free_ = start + pending_store_;
  dram_busy_ += pending_store_;
  last_store_end_ = dram_free_;
  pending_store_ = -1;
}

TileTimes TilePipeline::add(Cycles load, Cycles mask, Cycles compute, Cycles store) {
  const size_t i = compute_end_.size();
  const Cycles slot_free = i >= static_cast<size_t>(slots_) ? compute_end_[i - slots_] : 0;
  const Cycles prev_compute = i ? compute_end_[i - 1] : 0;
  TileTimes t;
  t.load_start = std::max(dram_free_, slot_free);
  t.load_end = t.load_start + load;
  dram_free_ = t.load_end;
  dram_busy_ += load;
  issue_pending_store();  // the previous tile's result goes out after this prefetch
  t.mask_start = std::max({t.load_end, mask_free_, slot_free});
  t.mask_end = t.mask_start + mask;
  mask_free_ = t.mask_end;
  t.compute_start = std::max(t.mask_end, prev_compute);
  t.compute_end = t.compute_start + compute;
  compute_end_.push_back(t.compute_end);
  pending_store_ = store;
  pending_ready_ = t.compute_end;
  return t;
}

Cycles TilePipeline::horizon() const {
  Cycles h = std::max(dram_free_, last_store_end_);
  if (!compute_end_.empty()) h = std::max(h, compute_end_.back());
  if (pending_store_ >= 0) h = std::max(h, std::max(dram_free_, pending_ready_) + pending_store_);
  return h;
}

Cycles TilePipeline::finish() {
  issue_pending_store();
  return horizon();
}

}  // namespace attnsim
