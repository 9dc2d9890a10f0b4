// Each unit behind its TLM socket: the values are the functional kernels',
// the latency in job.work is the formula's, and no delay is annotated (the
// controller's schedule is the one source of time). A job of the wrong kind
// is an error response.
#include <gtest/gtest.h>

#include <tlm_utils/simple_initiator_socket.h>

#include "sanger/pack_split_encoder.h"
#include "sanger/sanger_predictor.h"
#include "sanger/sanger_timing.h"
#include "sanger/score_stationary_array.h"
#include "systolic/systolic_array.h"
#include "systolic/systolic_timing.h"

using namespace attnsim;

namespace {

template <class Job>
struct Driver : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Driver> socket;
  Job* job = nullptr;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  SC_HAS_PROCESS(Driver);
  explicit Driver(sc_core::sc_module_name n) : sc_module(n), socket("socket") { SC_THREAD(run); }
  std::string error;
  void run() {
    const sc_core::sc_time t0 = sc_core::sc_time_stamp();
    try {
      send_job(socket, *job);
    } catch (const std::logic_error& e) {
      error = e.what();
    }
    delay = sc_core::sc_time_stamp() - t0;
  }
};

struct Data {
  MatF q, k, v;
  Data(int s, int d) {
    std::srand(5);
    q = MatF::Random(s, d) * 2;
    k = MatF::Random(s, d) * 2;
    v = MatF::Random(s, d);
  }
};

ScoreStationaryConfig ss_config() {
  ScoreStationaryConfig c;
  c.rows = 8;
  c.pes_per_row = 4;
  return c;
}

}  // namespace

TEST(Units, ScoreStationaryArrayComputesValuesAndAnnotatesItsFormula) {
  const Data d(32, 8);
  const ScoreStationaryConfig c = ss_config();
  const AttentionNumerics num{NumberFormat::parse("fixed16.8"), NumberFormat::parse("fixed16.14"), ExpUnit::parse("pwl6"),
                              0.35};
  CsrMask mask;
  mask.cols = 32;
  for (int r = 0; r < 16; ++r) mask.add_row({r, r + 1, 20, 31});
  const PackSplitSchedule s = pack_split(mask, 16, c.pes_per_row);
  const MatF q_tile = d.q.topRows(16);
  const HeadOperands kv = prepare_operands(d.k, d.v, num.data);
  ComputeJob job;
  job.q_tile = &q_tile;
  job.kv = &kv;
  job.mask = &mask;
  job.schedule = &s;
  job.numerics = num;
  ScoreStationaryArray unit("pe_array", c, 16, 0.5);  // 2 ns per cycle
  Driver<ComputeJob> drv("drv");
  drv.job = &job;
  drv.socket.bind(unit.socket);
  sc_core::sc_start();

  const UnitWork want = score_stationary_tile(s, 16, 8, c);
  EXPECT_EQ(job.work.cycles, want.cycles);
  EXPECT_EQ(drv.delay, sc_core::SC_ZERO_TIME);
  const auto values = masked_attention(q_tile, kv, mask, job.numerics);
  EXPECT_EQ(job.result.output, values.output);
  EXPECT_EQ(job.result.scores, values.scores);
  EXPECT_EQ(unit.busy_cycles(), want.cycles);
  EXPECT_EQ(job.score_buffer_bytes, 16 * 32 / 8);  // only the mask bits
}

TEST(Units, SystolicArrayComputesValuesAndAnnotatesItsFormula) {
  const Data d(16, 8);
  SystolicConfig c;
  c.rows = c.cols = 4;
  const NumberFormat fp32 = NumberFormat::parse("fp32");
  const CsrMask mask = CsrMask::full(16, 16, true, 0);
  const HeadOperands kv = prepare_operands(d.k, d.v, fp32);
  ComputeJob job;
  job.q_tile = &d.q;
  job.kv = &kv;
  job.mask = &mask;
  job.numerics = {fp32, fp32, ExpUnit{}, 0.35};
  SystolicArray unit("pe_array", c, 1.0);
  Driver<ComputeJob> drv("drv");
  drv.job = &job;
  drv.socket.bind(unit.socket);
  sc_core::sc_start();
  const UnitWork want = systolic_attention(mask, 8, c, 4);
  EXPECT_EQ(job.work.cycles, want.cycles);
  EXPECT_EQ(drv.delay, sc_core::SC_ZERO_TIME);
  const auto ref = dense_reference(d.q, d.k, d.v, 0.35, true, 0);
  EXPECT_LT((job.result.output - ref.output).cwiseAbs().maxCoeff(), 1e-5);
  // Causal: the upper-right key blocks of the first row blocks are skipped.
  EXPECT_EQ(want.counts.at("folds_computed"), 1 + 2 + 3 + 4);
}

TEST(Units, PredictorAndEncoderFollowTheirFormulas) {
  const Data d(64, 16);
  SangerPredictorConfig mc;
  mc.array.rows = mc.array.cols = 16;
  mc.softmax_lanes = 16;
  mc.threshold = 0.02;
  mc.normalize_qk = false;  // attnsim's first recipe: raw Q and K, one absmax per head
  mc.quant_scope_layer = false;
  const HeadTensors head{d.q, d.k, d.v};
  const HeadQuant hq = quantize_head(d.q, d.k, 4);
  MaskJob mj;
  mj.head = &head;
  mj.row0 = 16;  // the unit quantises the head on its first job, whichever tile
  mj.rows = 16;
  mj.scale = 0.25;
  SangerPredictor pred("pred", mc, 1.0);
  Driver<MaskJob> drv("drv");
  drv.job = &mj;
  drv.socket.bind(pred.socket);
  PackSplitConfig ec;
  ec.segment_width = 16;
  PackSplitEncoder enc("enc", ec, 4, 1.0);
  EncodeJob ej;
  ej.mask = &mj.prediction.mask;
  Driver<EncodeJob> drv2("drv2");
  drv2.job = &ej;
  drv2.socket.bind(enc.socket);
  sc_core::sc_start();
  EXPECT_EQ(mj.work.cycles, predictor_tile(16, 16 * 64, 64, 16, 16, 16, 16, 8).cycles);
  PredictorParams pp;
  pp.threshold = 0.02;
  pp.scale = 0.25;
  const Prediction want = predict_tile(hq, 16, 16, pp);
  ASSERT_NE(mj.quant, nullptr);
  EXPECT_EQ(mj.quant->q.values, hq.q.values);
  EXPECT_EQ(mj.prediction.mask.indices, want.mask.indices);
  EXPECT_EQ(ej.schedule.subrows, pack_split(want.mask, 16, 4).subrows);
  EXPECT_EQ(ej.work.cycles, 16 * 4);  // 16 rows x 4 segments, one per cycle
}

TEST(Units, AJobOfAnotherKindIsAnErrorResponse) {
  // A mask job sent to a PE array: the unit finds no ComputeJob extension.
  SystolicArray unit("pe_array", SystolicConfig{}, 1.0);
  MaskJob mj;
  Driver<MaskJob> drv("drv");
  drv.job = &mj;
  drv.socket.bind(unit.socket);
  sc_core::sc_start();
  EXPECT_NE(drv.error.find("job rejected"), std::string::npos) << drv.error;
  EXPECT_EQ(unit.jobs(), 0);
}
