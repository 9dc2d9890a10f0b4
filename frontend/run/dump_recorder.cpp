#include "run/dump_recorder.h"

namespace attnsim {

namespace {

void append_rows(CsrMask& into, const CsrMask& rows) {
  const int32_t base = into.indptr.back();
  into.cols = rows.cols;
  into.indices.insert(into.indices.end(), rows.indices.begin(), rows.indices.end());
  for (int r = 1; r <= rows.rows; ++r) into.indptr.push_back(base + rows.indptr[r]);
  into.rows += rows.rows;
}

}  // namespace

void DumpRecorder::head_begin(const HeadTensors& head, int, int, std::shared_ptr<const void>) {
  const int S = workload_.seq_len;
  hd_ = HeadDump{};
  hd_.q = &head.q;
  hd_.k = &head.k;
  hd_.v = &head.v;
  hd_.mask.cols = S;
  hd_.output.resize(S, workload_.head_dim);
  if (prediction_) {
    hd_.pred_scores.resize(S, S);
    hd_.pred_probs.resize(S, S);
  }
}

void DumpRecorder::tile(const TileEvent& t) {
  const ComputeJob& cj = *t.compute;
  if (t.row0 == 0 && t.mask_job) {
    hd_.unit_info = t.mask_job->dump_info;
    if (prediction_ && t.mask_job->quant) {
      const HeadQuant& hq = *t.mask_job->quant;
      hd_.q_quant = &hq.q.values;
      hd_.k_quant = &hq.k.values;
      hd_.q_scale = hq.q.scale;
      hd_.k_scale = hq.k.scale;
    }
  }
  hd_.row_requantised.insert(hd_.row_requantised.end(), cj.row_requantised.begin(), cj.row_requantised.end());
  hd_.row_top_prob.insert(hd_.row_top_prob.end(), cj.row_top_prob.begin(), cj.row_top_prob.end());
  append_rows(hd_.mask, *t.mask);
  hd_.scores.insert(hd_.scores.end(), cj.result.scores.begin(), cj.result.scores.end());
  hd_.probs.insert(hd_.probs.end(), cj.result.probs.begin(), cj.result.probs.end());
  hd_.output.middleRows(t.row0, t.rows) = cj.result.output;
  if (prediction_ && t.mask_job) {
    hd_.pred_scores.middleRows(t.row0, t.rows) = t.mask_job->prediction.scores;
    hd_.pred_probs.middleRows(t.row0, t.rows) = t.mask_job->prediction.probs;
  }
}

void DumpRecorder::head_end(int, int, PeriodStats&) { writer_.add_head(hd_); }

}  // namespace attnsim
