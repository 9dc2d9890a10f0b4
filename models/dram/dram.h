#pragma once
// DRAM as a TLM-2.0 target: a burst of N bytes starting at address A is
// interleaved over the channels in `interleave_bytes` chunks; it takes the
// access latency plus the busiest channel's bytes over its share of the
// bandwidth (own model, the usual bandwidth-latency abstraction; SpAtten
// interleaves HBM channels the same way on address bits).
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "common/timing.h"
#include "config/arch_config.h"

namespace attnsim {

// The busiest channel's bytes for a burst.
int64_t busiest_channel_bytes(uint64_t address, int64_t bytes, int channels, int interleave_bytes);
// Latency of one burst, in ns.
double dram_burst_ns(uint64_t address, int64_t bytes, const DramConfig& c);

class Dram : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<Dram> socket;

  Dram(sc_core::sc_module_name name, const DramConfig& config);

  int64_t bytes_read() const { return bytes_read_; }
  int64_t bytes_written() const { return bytes_written_; }
  int64_t bursts() const { return bursts_; }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  DramConfig config_;
  int64_t bytes_read_ = 0, bytes_written_ = 0, bursts_ = 0;
};

}  // namespace attnsim
