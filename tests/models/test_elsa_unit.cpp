// ELSA's candidate selection as a mask unit (models/elsa/): its latency
// formulas, and the unit behind its TLM socket giving the kernel's masks.
#include <gtest/gtest.h>

#include <tlm_utils/simple_initiator_socket.h>

#include "elsa/elsa_timing.h"
#include "elsa/elsa_unit.h"

using namespace attnsim;

TEST(ElsaTiming, HashingIsKPlusOneMacsPerElementOnTheHashUnit) {
  ElsaConfig c;
  c.selection.hash_bits = 64;
  c.hash_multipliers = 128;
  c.pipeline_latency_cycles = 6;
  const UnitWork w = elsa_hash_work(100, 32, c);  // 100 * 65 * 32 = 208000 MACs
  EXPECT_EQ(w.macs, 208000);
  EXPECT_EQ(w.cycles, 1625 + 6);
  EXPECT_EQ(elsa_hash_work(0, 32, c).cycles, 0);
}

TEST(ElsaTiming, SelectionEstimatesThenComparesEveryPairThenEmits) {
  ElsaConfig c;
  c.select_lanes = 16;
  c.emit_lanes = 8;
  c.pipeline_latency_cycles = 6;
  const UnitWork w = elsa_select_work(1000, 100, c);
  EXPECT_EQ(w.stages.at("estimate"), 63 + 6);  // ceil(1000 / 16)
  EXPECT_EQ(w.stages.at("compare"), 63);
  EXPECT_EQ(w.stages.at("emit"), 13);  // ceil(100 / 8)
  EXPECT_EQ(w.cycles, 69 + 63 + 13);
  EXPECT_EQ(w.counts.at("compare_ops"), 2000);
  EXPECT_EQ(w.counts.at("add_ops"), 1000);
  EXPECT_EQ(w.counts.at("index_ops"), 100);
}

namespace {

struct Driver : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Driver> socket;
  std::vector<MaskJob>* jobs = nullptr;
  SC_HAS_PROCESS(Driver);
  explicit Driver(sc_core::sc_module_name n) : sc_module(n), socket("socket") { SC_THREAD(run); }
  void run() {
    for (auto& j : *jobs) send_job(socket, j);
  }
};

}  // namespace

TEST(ElsaUnit, MasksAreTheKernelsAndKeysAreHashedOncePerHead) {
  std::srand(11);
  const int seq = 96, d = 16, rows = 32;
  const HeadTensors head{MatF::Random(seq, d), MatF::Random(seq, d), MatF::Random(seq, d)};
  ElsaConfig c;
  c.selection.threshold = 0.05;
  std::vector<MaskJob> jobs;
  for (int r0 = 0; r0 < seq; r0 += rows) {
    MaskJob j;
    j.head = &head;
    j.row0 = r0;
    j.rows = rows;
    j.causal = true;
    j.scale = 0.25;
    jobs.push_back(j);
  }
  ElsaUnit unit("elsa", c, d, 1.0);
  Driver drv("drv");
  drv.jobs = &jobs;
  drv.socket.bind(unit.socket);
  sc_core::sc_start();

  const MatF proj = elsa_projection(64, d, 1);
  const ElsaHashes q = elsa_hash(head.q, proj), k = elsa_hash(head.k, proj);
  for (size_t t = 0; t < jobs.size(); ++t) {
    const int r0 = static_cast<int>(t) * rows;
    const CsrMask want = elsa_select(q, r0, rows, k, elsa_cos_table(64), elsa_log_inv_p(0.05), 0.25, true);
    EXPECT_EQ(jobs[t].prediction.mask.indices, want.indices) << t;
    EXPECT_EQ(jobs[t].prediction.mask.indptr, want.indptr) << t;
    int64_t pairs = 0;
    for (int i = 0; i < rows; ++i) pairs += r0 + i + 1;
    UnitWork expect = t == 0 ? elsa_hash_work(seq, d, c) : UnitWork{};
    expect.merge(elsa_hash_work(rows, d, c));
    expect.merge(elsa_select_work(pairs, want.nnz(), c));
    EXPECT_EQ(jobs[t].work.cycles, expect.cycles) << t;
    EXPECT_EQ(jobs[t].k_keys_read, t == 0 ? seq : 0) << t;  // K is read for hashing on the first tile only
  }
}
