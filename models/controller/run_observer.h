#pragma once
// What the controller tells the front end while it runs, and what the front
// end may tell it back. The controller times tiles; everything a run does
// besides timing — the accuracy check against dense attention, the dump, the
// functional cache — is an observer the front end owns and passes in
// (frontend/run/), so no file I/O and no reference numerics live in models/.
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/jobs.h"
#include "common/run_stats.h"
#include "kernels/metrics.h"
#include "workload/workload.h"

namespace attnsim {

// Functional results of a head from an earlier run with the same values (the
// functional cache): its tiles' masks and accuracy, and its per-head facts.
struct CachedTile {
  CsrMask mask;
  AccuracyStats accuracy;  // this tile's contribution
};
struct CachedHead {
  std::vector<CachedTile> tiles;
  nlohmann::json head_info;  // null when the mask unit reports none
};

// One query tile as the controller ran it.
struct TileEvent {
  int layer = 0, head_index = 0, tile = 0, row0 = 0, rows = 0;
  const MatF* q_tile = nullptr;
  const CsrMask* mask = nullptr;               // the tile's mask (rows x keys), or
  const TileShape* shape = nullptr;            // its structure (structured masks)
  const MaskJob* mask_job = nullptr;           // null without a mask unit
  const ComputeJob* compute = nullptr;         // the PE array's job: its values unless timing_only
  const std::vector<char>* row_active = nullptr;  // rows pruned away (0); null: all active
  const CachedTile* known = nullptr;           // the cached tile when the head came from the cache
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // The head's cached results, if the observer has them: the controller then
  // only times the head (units skip their functional work).
  virtual const CachedHead* cached_head(int /*layer*/, int /*head_index*/) { return nullptr; }
  // Per-head work that depends only on the head's values (e.g. the dense
  // reference of sampled rows), done ahead on a pool of threads: must be
  // thread-safe and pure. head_begin gets it back (null: none).
  virtual std::shared_ptr<const void> prepare_head(const HeadTensors& /*head*/) const { return nullptr; }
  virtual void head_begin(const HeadTensors& /*head*/, int /*layer*/, int /*head_index*/,
                          std::shared_ptr<const void> /*prepared*/) {}
  virtual void tile(const TileEvent& /*t*/) {}
  // The head is done; the observer may add to the layer's counters.
  virtual void head_end(int /*layer*/, int /*head_index*/, PeriodStats& /*layer_stats*/) {}
  // Whether a unit must keep what only a dump reads (dense predictions, unit state).
  virtual bool wants_dump_data() const { return false; }
  // Whether the PE array must produce probabilities for this observer.
  virtual bool wants_probabilities() const { return false; }
  // Whether the observer needs every tile's mask as CSR (a dump, a cache
  // entry): then no tile comes as a TileShape.
  virtual bool wants_csr_masks() const { return false; }
  // Which output rows the observer reads: those at head positions r with
  // r % stride == 0 (1: every row; 0: none). The PE array computes values
  // only for rows some observer reads.
  virtual int value_row_stride() const { return 0; }
};

}  // namespace attnsim
