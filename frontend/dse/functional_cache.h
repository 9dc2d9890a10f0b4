#pragma once
// Reuse of functional results across runs (attnsim run --functional-cache
// DIR, used by sweeps): runs whose values cannot differ — same workload, same
// mask-unit and number-format parameters, same tiling — share each head's
// masks and accuracy counters, so a point that changes only hardware
// parameters (array shape, buffers, DRAM, clock) computes timing alone.
#include <optional>
#include <string>
#include <vector>

#include "config/arch_config.h"
#include "controller/controller.h"    // takes_structured_masks
#include "controller/run_observer.h"  // CachedHead, CachedTile
#include "kernels/metrics.h"
#include "kernels/tensor.h"
#include "workload/workload.h"

namespace attnsim {

class FunctionalCache {
 public:
  // Entries live in DIR/<key>/, key = functional_key(...).
  FunctionalCache(const std::string& dir, const std::string& key);

  // A stable 64-bit FNV-1a hash (hex) of everything that determines values:
  // the parameters and the contents of every input file (npy tensors, pattern file).
  static std::string functional_key(const ArchConfig& arch, const WorkloadSpec& workload, int query_rows,
                                    int accuracy_rows);
  // SpAtten's timing depends on values the cache does not keep (importance
  // scores, requantised rows): such runs always compute.
  // Not for runs whose masks travel as structure (controller.h
  // takes_structured_masks): they are cheap to recompute, and a cache entry
  // lists every kept entry (gigabytes per head at 128k tokens).
  static bool applies_to(const ArchConfig& arch, const WorkloadSpec& workload) {
    return arch.mask_unit.unit->caps.cacheable && arch.encoder.unit->caps.cacheable &&
           arch.pe_array.unit->caps.cacheable && !takes_structured_masks(arch, workload.causal);
  }

  // The entry of one head, nullopt when there is none. An entry that fails its
  // checksum or does not describe `tiles` tiles of `tile_rows` rows (the last
  // one shorter, `seq` rows in all) is damaged: it is not used, the run
  // recomputes it, and damaged() names it.
  std::optional<CachedHead> load(int layer, int group, int tiles, int tile_rows, int seq) const;
  // Written atomically (temporary file, then rename), so concurrent runs are safe.
  void store(int layer, int group, const CachedHead& head) const;
  const std::string& path() const { return dir_; }
  // Damaged entries met by load(): "FILE: why", one per entry.
  const std::vector<std::string>& damaged() const { return damaged_; }

  // The entry's bytes and back (checksummed; decode throws std::runtime_error
  // saying what is wrong). Public for the fuzz target and tests.
  static std::string encode(const CachedHead& head);
  static CachedHead decode(const std::string& bytes);

 private:
  std::string file(int layer, int group) const;
  std::string dir_;
  mutable std::vector<std::string> damaged_;
};

}  // namespace attnsim
