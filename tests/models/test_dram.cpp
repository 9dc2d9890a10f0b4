#include <gtest/gtest.h>

#include <tlm_utils/simple_initiator_socket.h>

#include "common/timing.h"
#include "dram/dram.h"

using namespace attnsim;

TEST(DramTiming, InterleavingSpreadsBursts) {
  EXPECT_EQ(busiest_channel_bytes(0, 256, 4, 64), 64);
  EXPECT_EQ(busiest_channel_bytes(0, 100, 4, 64), 64);
  EXPECT_EQ(busiest_channel_bytes(32, 64, 4, 64), 32);    // 32 B on channel 0, 32 on channel 1
  EXPECT_EQ(busiest_channel_bytes(0, 4096 + 1, 8, 64), 512 + 1);
  EXPECT_EQ(busiest_channel_bytes(64 * 3, 64 * 2, 4, 64), 64);  // channels 3 and 0
  EXPECT_EQ(busiest_channel_bytes(0, 0, 4, 64), 0);
}

TEST(DramTiming, BurstLatencyIsLatencyPlusBusiestChannel) {
  DramConfig c;
  c.channels = 8;
  c.bandwidth_gbps = 128;  // 16 B/ns per channel
  c.latency_ns = 100;
  c.interleave_bytes = 64;
  EXPECT_DOUBLE_EQ(dram_burst_ns(0, 4096, c), 100 + 512.0 / 16);
  EXPECT_DOUBLE_EQ(dram_burst_ns(0, 64, c), 100 + 4.0);
  EXPECT_DOUBLE_EQ(dram_burst_ns(0, 0, c), 0.0);
  EXPECT_EQ(ns_to_cycles(132.0, 1.0), 132);
  EXPECT_EQ(ns_to_cycles(132.1, 1.0), 133);
  EXPECT_EQ(ns_to_cycles(100.0, 0.5), 50);
}

namespace {
struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket;
  sc_core::sc_time read_delay, write_delay;
  SC_HAS_PROCESS(Initiator);
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n), socket("socket") { SC_THREAD(run); }
  void run() {
    tlm::tlm_generic_payload gp;
    gp.set_command(tlm::TLM_READ_COMMAND);
    gp.set_address(0);
    gp.set_data_length(4096);
    socket->b_transport(gp, read_delay);
    EXPECT_EQ(gp.get_response_status(), tlm::TLM_OK_RESPONSE);
    gp.set_command(tlm::TLM_WRITE_COMMAND);
    gp.set_data_length(100);
    socket->b_transport(gp, write_delay);
  }
};
}  // namespace

TEST(DramModule, AnnotatesDelayAndCountsBytes) {
  DramConfig c;
  Dram dram("dram", c);
  Initiator init("init");
  init.socket.bind(dram.socket);
  sc_core::sc_start();
  EXPECT_EQ(init.read_delay, sc_core::sc_time(dram_burst_ns(0, 4096, c), sc_core::SC_NS));
  EXPECT_EQ(init.write_delay, sc_core::sc_time(dram_burst_ns(0, 100, c), sc_core::SC_NS));
  EXPECT_EQ(dram.bytes_read(), 4096);
  EXPECT_EQ(dram.bytes_written(), 100);
  EXPECT_EQ(dram.bursts(), 2);
}
