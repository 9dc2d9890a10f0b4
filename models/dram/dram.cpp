#include "dram/dram.h"

#include <algorithm>

namespace attnsim {

int64_t busiest_channel_bytes(uint64_t address, int64_t bytes, int channels, int interleave_bytes) {
  if (bytes <= 0) return 0;
  // Whole interleave rounds give every channel the same share; only the
  // partial chunks at the ends differ.
  std::vector<int64_t> per(channels, 0);
  uint64_t a = address;
  int64_t left = bytes;
  const int64_t round = static_cast<int64_t>(channels) * interleave_bytes;
  // Leading partial chunk, then whole rounds, then the tail, chunk by chunk.
  auto take_chunk = [&](void) {
    const uint64_t chunk = a / interleave_bytes;
    const int64_t in_chunk = std::min<int64_t>(left, interleave_bytes - static_cast<int64_t>(a % interleave_bytes));
    per[chunk % channels] += in_chunk;
    a += in_chunk;
    left -= in_chunk;
  };
  if (a % interleave_bytes) take_chunk();
  // Align to a round boundary chunk by chunk (at most channels - 1 chunks).
  while (left > 0 && (a / interleave_bytes) % channels != 0) take_chunk();
  const int64_t rounds = left / round;
  for (auto& p : per) p += rounds * interleave_bytes;
  a += static_cast<uint64_t>(rounds * round);
  left -= rounds * round;
  while (left > 0) take_chunk();
  return *std::max_element(per.begin(), per.end());
}

double dram_burst_ns(uint64_t address, int64_t bytes, const DramConfig& c) {
  if (bytes <= 0) return 0.0;
  const double channel_gbps = c.bandwidth_gbps / c.channels;  // GB/s = bytes per ns
  return c.latency_ns + static_cast<double>(busiest_channel_bytes(address, bytes, c.channels, c.interleave_bytes)) /
                            channel_gbps;
}

Dram::Dram(sc_core::sc_module_name name, const DramConfig& config) : sc_module(name), socket("socket"), config_(config) {
  socket.register_b_transport(this, &Dram::b_transport);
}

void Dram::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  const int64_t bytes = gp.get_data_length();
  // The payload carries sizes, not data: the functional layer owns the tensors.
  if (gp.is_read()) bytes_read_ += bytes;
  else bytes_written_ += bytes;
  ++bursts_;
  delay += sc_core::sc_time(dram_burst_ns(gp.get_address(), bytes, config_), sc_core::SC_NS);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace attnsim
