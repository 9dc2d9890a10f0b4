#pragma once
// An on-chip buffer for one operand: what fits in a tile slot, and the bytes
// spilled to DRAM when a tile does not fit (own model: the excess is written
// out and read back once). Reads and writes are counted in the run's stats.
#include <cstdint>
#include <string>

namespace attnsim {

class SramBuffer {
 public:
  SramBuffer(int64_t capacity_bytes, bool double_buffered)
      : capacity_(capacity_bytes), double_buffered_(double_buffered) {}

  int64_t capacity_bytes() const { return capacity_; }
  // Bytes one tile may occupy: half the buffer when double-buffered.
  int64_t slot_bytes() const { return double_buffered_ ? capacity_ / 2 : capacity_; }
  bool fits(int64_t bytes) const { return bytes <= slot_bytes(); }
  // Bytes of a tile of `bytes` that do not fit its slot.
  int64_t excess(int64_t bytes) const { return bytes > slot_bytes() ? bytes - slot_bytes() : 0; }

 private:
  int64_t capacity_;
  bool double_buffered_;
};

}  // namespace attnsim
