#pragma once
// The controller's schedule of query tiles over four stages — load (DRAM),
// mask (mask unit + encoder), compute (PE array), store (DRAM) — as a classic
// pipeline with shared resources (own model):
//  - DRAM serves one burst at a time, loads and stores in issue order; a
//    tile's store is issued after the next tile's load (prefetch first);
//  - a tile may load only when a buffer slot is free: the slot of tile i-2
//    with double buffering, of tile i-1 without;
//  - the mask unit and the PE array each take one tile at a time, in order.
#include <vector>

#include "common/timing.h"

namespace attnsim {

struct TileTimes {
  Cycles load_start = 0, load_end = 0;
  Cycles mask_start = 0, mask_end = 0;
  Cycles compute_start = 0, compute_end = 0;
};

class TilePipeline {
 public:
  explicit TilePipeline(bool double_buffer) : slots_(double_buffer ? 2 : 1) {}

  TileTimes add(Cycles load, Cycles mask, Cycles compute, Cycles store);
  // Issues the last pending store; returns when everything has finished.
  Cycles finish();
  // Time by which everything issued so far (stores included) is done.
  Cycles horizon() const;
  Cycles dram_busy() const { return dram_busy_; }

 private:
  void issue_pending_store();
  int slots_;
  std::vector<Cycles> compute_end_;  // per tile
  Cycles dram_free_ = 0, mask_free_ = 0, dram_busy_ = 0, last_store_end_ = 0;
  Cycles pending_store_ = -1, pending_ready_ = 0;
};

}  // namespace attnsim
