#include "common/run_stats.h"

namespace attnsim {

template <class M>
static void add_map(M& into, const M& from) {
  for (const auto& [k, v] : from) into[k] += v;
}

void UnitWork::merge(const UnitWork& o) {
  cycles += o.cycles;
  add_map(stages, o.stages);
  add_map(counts, o.counts);
  macs += o.macs;
  pe_slots += o.pe_slots;
  add_map(sram_read_bytes, o.sram_read_bytes);
  add_map(sram_write_bytes, o.sram_write_bytes);
}

void BufferStats::merge(const BufferStats& o) {
  capacity_bytes = o.capacity_bytes;
  bytes_read += o.bytes_read;
  bytes_written += o.bytes_written;
  bytes_spilled += o.bytes_spilled;
}

void PeriodStats::merge(const PeriodStats& o) {
  cycles += o.cycles;
  for (const auto& [k, v] : o.units) units[k].merge(v);
  dram_busy_cycles += o.dram_busy_cycles;
  dram_bytes_read += o.dram_bytes_read;
  dram_bytes_written += o.dram_bytes_written;
  dram_bursts += o.dram_bursts;
  dram_bytes_dense += o.dram_bytes_dense;
  for (const auto& [k, v] : o.sram) sram[k].merge(v);
  dense_macs += o.dense_macs;
  accuracy.merge(o.accuracy);
}

}  // namespace attnsim
