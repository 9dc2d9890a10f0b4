#include "controller/controller.h"


#include "common/jobs.h"
#include "sanger/sanger_config.h"
#include "sanger/sanger_units.h"
#include "kernels/attention.h"

namespace attnsim {

Controller::Controller(sc_core::sc_module_name name, const ArchConfig& arch, const WorkloadSpec& workload,
                       WorkloadSource& source, DumpWriter* dump, Progress progress, FunctionalCache* cache,
                       int accuracy_rows)
    : sc_module(name),
      dram_socket("dram_socket"),
      mask_socket("mask_socket"),
      encoder_socket("encoder_socket"),
      pe_socket("pe_socket"),
      arch_(arch),
      workload_(workload),
      source_(source),
      dump_(dump),
      cache_(dump ? nullptr : cache),  // a dump needs every value: no reuse
      accuracy_rows_(accuracy_rows),
      progress_(std::move(progress)),
      period_(1.0 / arch.clock_ghz, sc_core::SC_NS),
      pipeline_(arch.memory.double_buffer) {
  const auto& m = arch.memory;
  for (const auto& [name_, kib] : std::map<std::string, int>{
           {"q", m.q_kib}, {"k", m.k_kib}, {"v", m.v_kib}, {"score", m.score_kib}, {"output", m.output_kib}})
    sram_.emplace(name_, SramBuffer(static_cast<int64_t>(kib) * 1024, m.double_buffer));
  stats_.query_rows = arch.query_tile_rows(workload.seq_len, workload.head_dim);
  const int64_t row_bytes = static_cast<int64_t>(workload.head_dim) * arch.pe_array.number_format.bytes();
  const int64_t head_bytes = static_cast<int64_t>(workload.seq_len) * row_bytes;
  stats_.kv_resident = sram_.at("k").fits(head_bytes) && sram_.at("v").fits(head_bytes);
  SC_THREAD(run);
  set_stack_size(64 << 20);  // Eigen keeps GEMM blocks on the stack: the default coroutine stack is too small
}

Cycles Controller::dram_burst(bool write, uint64_t address, int64_t bytes, PeriodStats& layer) {
  if (bytes <= 0) return 0;
  tlm::tlm_generic_payload gp;
  gp.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  gp.set_address(address);
  gp.set_data_ptr(nullptr);  // sizes only: the functional layer holds the data
  gp.set_data_length(static_cast<unsigned>(bytes));
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  dram_socket->b_transport(gp, delay);
  (write ? layer.dram_bytes_written : layer.dram_bytes_read) += bytes;
  ++layer.dram_bursts;
  return ns_to_cycles(delay.to_seconds() * 1e9, arch_.clock_ghz);
}

void Controller::advance(Cycles horizon) {
  const sc_core::sc_time target = period_ * static_cast<double>(horizon);
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  qk_.set(target > now ? target - now : sc_core::SC_ZERO_TIME);
  if (qk_.need_sync()) qk_.sync();
}

namespace {

// Keys the PE array needs from a tile's mask, in whole blocks of `block` keys.
int64_t needed_keys(const CsrMask& mask, int block) {
  std::vector<int64_t> kept((mask.cols + block - 1) / block, 0);
  mask.count_blocks(0, mask.rows, block, kept);
  int64_t keys = 0;
  for (size_t x = 0; x < kept.size(); ++x)
    if (kept[x]) keys += std::min<int64_t>(block, mask.cols - static_cast<int64_t>(x) * block);
  return keys;
}

// Error and recall of the sampled rows of a head against dense attention, in
// batches of rows (bounded memory: batch x seq probabilities; causal batches
// of neighbouring rows take only the keys up to their last row), added to
// their tiles' counters in row order.
void add_sampled_rows(const HeadTensors& head, const std::vector<SampledRow>& sampled, double scale, bool causal,
                      std::vector<AccuracyStats>& accuracy) {
  constexpr size_t kBatch = 32;
  const int S = static_cast<int>(head.k.rows()), d = static_cast<int>(head.v.cols());
  for (size_t a = 0; a < sampled.size(); a += kBatch) {
    const size_t n = std::min(kBatch, sampled.size() - a);
    MatF q(static_cast<Eigen::Index>(n), head.q.cols());
    std::vector<int> rows(n);
    for (size_t r = 0; r < n; ++r) {
      rows[r] = sampled[a + r].row;
      q.row(static_cast<Eigen::Index>(r)) = head.q.row(rows[r]);
    }
    const DenseReference ref = dense_reference(q, head.k, head.v, scale, causal, rows);
    for (size_t r = 0; r < n; ++r) {
      const SampledRow& sr = sampled[a + r];
      CsrMask one;
      one.cols = S;
      one.add_row(sr.keys);
      DenseReference row_ref;
      row_ref.probs = ref.probs.row(static_cast<Eigen::Index>(r));
      row_ref.output = ref.output.row(static_cast<Eigen::Index>(r));
      const MatF out = Eigen::Map<const MatF>(sr.output.data(), 1, d);
      accuracy[sr.tile].add_values(out, row_ref, one);
    }
  }
}

void append_rows(CsrMask& into, const CsrMask& rows) {
  const int32_t base = into.indptr.back();
  into.cols = rows.cols;
  into.indices.insert(into.indices.end(), rows.indices.begin(), rows.indices.end());
  for (int r = 1; r <= rows.rows; ++r) into.indptr.push_back(base + rows.indptr[r]);
  into.rows += rows.rows;
}

}  // namespace

void Controller::run_head(const HeadTensors& head, int layer_index, int head_index, PeriodStats& layer) {
  const int S = workload_.seq_len, d = workload_.head_dim, QT = stats_.query_rows;
  const bool causal = workload_.causal;
  const bool mask_unit = !arch_.mask_unit.none();
  const bool sanger = arch_.mask_unit.is(sanger_predictor_unit());  // quantised prediction
  const SangerPredictorConfig* sp = sanger ? &arch_.mask_unit.get<SangerPredictorConfig>() : nullptr;
  const bool learns = arch_.mask_unit.unit->caps.learns;  // gets each computed tile back
  const bool encoder = !arch_.encoder.none();
  const int64_t eb = arch_.pe_array.number_format.bytes();
  const int64_t head_bytes = static_cast<int64_t>(S) * d * eb;
  const int key_block = encoder ? arch_.encoder.unit->key_block(arch_) : arch_.pe_array.unit->key_block(arch_);

  HeadQuant hq;
  PredictorParams pp;
  pp.causal = causal;
  pp.scale = workload_.scale();
  if (sanger && !sp->normalize_qk && !sp->quant_scope_layer) {
    hq = quantize_head(head.q, head.k, sp->bits);  // attnsim's first recipe
  } else if (sanger) {
    const QkRows own = layer_rows_.empty() ? predictor_rows(head.q, head.k, sp->normalize_qk) : QkRows{};
    const QkRows& rows = layer_rows_.empty() ? own : layer_rows_[head_index % workload_.heads];
    const bool layer_scope = sp->quant_scope_layer;
    hq = quantize_head_sanger(rows, sp->bits, layer_scope ? layer_absmax_q_ : absmax_f32(rows.q),
                              layer_scope ? layer_absmax_k_ : absmax_f32(rows.k));
  }
  if (sanger) {
    pp.bits = sp->bits;
    pp.threshold = sp->threshold;
    pp.keep_row_max = sp->keep_row_max;
  }
  AttentionNumerics num{arch_.pe_array.number_format, arch_.pe_array.prob_format, arch_.pe_array.exp,
                        workload_.scale()};
  num.probabilities = dump_ != nullptr || learns;  // else nothing reads them
  const HeadOperands kv = prepare_operands(head.k, head.v, num.data);
  HeadDump hd;
  if (dump_) {
    hd.q = &head.q;
    hd.k = &head.k;
    hd.v = &head.v;
    hd.mask.cols = S;
    hd.output.resize(S, d);
    if (sanger) {
      hd.q_quant = &hq.q.values;
      hd.k_quant = &hq.k.values;
      hd.q_scale = hq.q.scale;
      hd.k_scale = hq.k.scale;
      hd.pred_scores.resize(S, S);
      hd.pred_probs.resize(S, S);
    }
  }
  // Functional results of an earlier run with the same values, if any.
  std::optional<CachedHead> cached;
  if (cache_) {
    cached = cache_->load(layer_index, head_index, (S + QT - 1) / QT, QT, S);
    if (cached) ++cache_hits_;
  }
  CachedHead record;
  const int stride = accuracy_rows_ > 0 ? (S + accuracy_rows_ - 1) / accuracy_rows_ : 1;
  std::vector<AccuracyStats> accuracy((S + QT - 1) / QT);  // per tile
  std::vector<SampledRow> sampled;
  const uint64_t head_address = static_cast<uint64_t>(stats_.total.dram_bursts + layer.dram_bursts) << 20;

  for (int row0 = 0, tile = 0; row0 < S; row0 += QT, ++tile) {
    const int rows = std::min(QT, S - row0);
    const MatF q_tile = head.q.middleRows(row0, rows);
    const CachedTile* known = cached ? &cached->tiles[tile] : nullptr;

    Cycles mask_cycles = 0;
    MaskJob mj;
    CsrMask full;
    const CsrMask* mask = &full;
    if (mask_unit) {
      mj.head = &head;
      mj.layer = layer_index;
      mj.head_index = head_index;
      mj.quant = &hq;
      mj.row0 = row0;
      mj.rows = rows;
      mj.params = pp;
      mj.dumping = dump_ != nullptr;
      if (known) mj.known_mask = &known->mask;
      send_job(mask_socket, mj);
      mask_cycles += mj.work.cycles;
      layer.units["mask_unit"].merge(mj.work);
      mask = &mj.prediction.mask;
      if (known && row0 == 0) mj.head_info = cached->head_info;
      if (row0 == 0) record.head_info = mj.head_info;
      if (row0 == 0 && !mj.head_info.is_null()) {
        nlohmann::json info = mj.head_info;
        info["head"] = head_index;
        layer.heads.push_back(info);
      }
    } else {
      full = CsrMask::full(rows, S, causal, row0);
    }
    EncodeJob ej;
    if (encoder) {
      ej.mask = mask;
      send_job(encoder_socket, ej);
      mask_cycles += ej.work.cycles;
      layer.units["encoder"].merge(ej.work);
    }
    ComputeJob cj;
    cj.q_tile = &q_tile;
    cj.kv = &kv;
    cj.mask = mask;
    cj.schedule = encoder ? &ej.schedule : nullptr;
    cj.numerics = num;
    cj.causal = causal;
    cj.row0 = row0;
    cj.layer = layer_index;
    cj.timing_only = known != nullptr;
    // Sanger with row_max = predictor: exp(s - the predictor's row maximum).
    if (!mj.prediction.row_max.empty() && arch_.pe_array.is(score_stationary_unit()) &&
        arch_.pe_array.get<ScoreStationaryConfig>().row_max == RowMaxSource::predictor)
      cj.numerics.row_max = &mj.prediction.row_max;
    const std::vector<char>* row_active = mj.prediction.row_active.empty() ? nullptr : &mj.prediction.row_active;
    cj.row_active = row_active;
    send_job(pe_socket, cj);
    const Cycles compute_cycles = cj.work.cycles;
    layer.units["pe_array"].merge(cj.work);
    if (learns && !known) {  // the mask unit learns from the computed tile (SpAtten's importance)
      MaskJob observe;
      observe.layer = layer_index;
      observe.head_index = head_index;
      observe.row0 = row0;
      observe.observed_mask = mask;
      observe.observed = &cj.result;
      send_job(mask_socket, observe);
      layer.units["mask_unit"].merge(observe.work);  // no cycles; its operations count for energy
    }

    // DRAM traffic of the tile (own model): the Q tile; K and V once per head
    // when both fit on chip, else for every tile the key blocks its mask
    // needs, plus the keys the mask unit read itself (Sanger's predictor: all
    // of K every tile; the pattern detector: the estimation's keys on a
    // head's first tile; static and pruning units: none); output rows; spills
    // of the score and output buffers, written and read back.
    // Rows a pruning mask unit removed are neither fetched nor written; a
    // datapath fetching fewer bits or V rows scales K and V (k/v_fetch_scale).
    const int64_t active_rows =
        row_active ? std::count(row_active->begin(), row_active->end(), 1) : static_cast<int64_t>(rows);
    const int64_t q_bytes = active_rows * d * eb;
    int64_t k_bytes = 0, v_bytes = 0, kv_dense = 0;
    if (stats_.kv_resident) {
      if (row0 == 0) k_bytes = v_bytes = kv_dense = head_bytes;
    } else {
      k_bytes = v_bytes = needed_keys(*mask, key_block) * d * eb;
      kv_dense = head_bytes;
      k_bytes += mj.k_keys_read * d * eb;
    }
    k_bytes = static_cast<int64_t>(static_cast<double>(k_bytes) * cj.k_fetch_scale + 0.5);
    v_bytes = static_cast<int64_t>(static_cast<double>(v_bytes) * cj.v_fetch_scale + 0.5);
    const int64_t score_spill = sram_.at("score").excess(cj.score_buffer_bytes);
    const int64_t out_spill = sram_.at("output").excess(q_bytes);
    const Cycles load = dram_burst(false, head_address + row0 * d * eb, q_bytes + k_bytes + v_bytes, layer);
    const Cycles store =
        dram_burst(true, head_address + (1u << 19) + row0 * d * eb, q_bytes + 2 * (score_spill + out_spill), layer);
    // The same tile with nothing skipped: every row, all keys, full width.
    layer.dram_bytes_dense += 2 * static_cast<int64_t>(rows) * d * eb + 2 * kv_dense;
    pipeline_.add(load, mask_cycles, compute_cycles, store);
    layer.dram_busy_cycles += load + store;
    advance(pipeline_.horizon());

    auto& sr = layer.sram;
    sr["q"].bytes_written += q_bytes;
    sr["k"].bytes_written += k_bytes;
    sr["v"].bytes_written += v_bytes;
    sr["score"].bytes_spilled += score_spill;
    sr["output"].bytes_spilled += out_spill;
    for (const auto* w : {&mj.work, &ej.work, &cj.work}) {
      for (const auto& [buf, bytes] : w->sram_read_bytes) sr[buf].bytes_read += bytes;
      for (const auto& [buf, bytes] : w->sram_write_bytes) sr[buf].bytes_written += bytes;
    }

    // Accuracy against dense fp32 attention (not hardware: the report's
    // check), on every row, or on every stride-th row of the head: those
    // rows' references are computed together at the head's end (one GEMM
    // instead of a pass over K and V per row).
    AccuracyStats& tile_accuracy = accuracy[tile];
    if (known) {
      tile_accuracy = known->accuracy;
    } else {
      tile_accuracy.add_mask(*mask, causal, row0);
      if (stride == 1 && !row_active) {
        tile_accuracy.add_values(cj.result.output, dense_reference(q_tile, head.k, head.v, workload_.scale(), causal, row0),
                                 *mask);
      } else if (stride == 1) {  // only the rows still computed (pruning)
        const DenseReference ref = dense_reference(q_tile, head.k, head.v, workload_.scale(), causal, row0);
        std::vector<int> keep;
        for (int i = 0; i < rows; ++i)
          if ((*row_active)[i]) keep.push_back(i);
        DenseReference sub_ref;
        sub_ref.probs.resize(static_cast<Eigen::Index>(keep.size()), S);
        sub_ref.output.resize(static_cast<Eigen::Index>(keep.size()), d);
        MatF sub_out(static_cast<Eigen::Index>(keep.size()), d);
        CsrMask sub_mask;
        sub_mask.cols = S;
        for (size_t r = 0; r < keep.size(); ++r) {
          const int i = keep[r];
          sub_ref.probs.row(static_cast<Eigen::Index>(r)) = ref.probs.row(i);
          sub_ref.output.row(static_cast<Eigen::Index>(r)) = ref.output.row(i);
          sub_out.row(static_cast<Eigen::Index>(r)) = cj.result.output.row(i);
          sub_mask.add_row(std::vector<int32_t>(mask->indices.begin() + mask->indptr[i],
                                                mask->indices.begin() + mask->indptr[i + 1]));
        }
        tile_accuracy.add_values(sub_out, sub_ref, sub_mask);
      } else {
        for (int i = (stride - row0 % stride) % stride; i < rows; i += stride) {
          if (row_active && !(*row_active)[i]) continue;  // pruned rows have no output to compare
          SampledRow sr;
          sr.tile = tile;
          sr.row = row0 + i;
          sr.output.assign(cj.result.output.row(i).data(), cj.result.output.row(i).data() + d);
          sr.keys.assign(mask->indices.begin() + mask->indptr[i], mask->indices.begin() + mask->indptr[i + 1]);
          sampled.push_back(std::move(sr));
        }
      }
      if (cache_) record.tiles.push_back({*mask, {}});  // its accuracy is set at the head's end
    }

    if (dump_) {
      if (row0 == 0) hd.unit_info = mj.dump_info;
      hd.row_requantised.insert(hd.row_requantised.end(), cj.row_requantised.begin(), cj.row_requantised.end());
      hd.row_top_prob.insert(hd.row_top_prob.end(), cj.row_top_prob.begin(), cj.row_top_prob.end());
      append_rows(hd.mask, *mask);
      hd.scores.insert(hd.scores.end(), cj.result.scores.begin(), cj.result.scores.end());
      hd.probs.insert(hd.probs.end(), cj.result.probs.begin(), cj.result.probs.end());
      hd.output.middleRows(row0, rows) = cj.result.output;
      if (sanger) {
        hd.pred_scores.middleRows(row0, rows) = mj.prediction.scores;
        hd.pred_probs.middleRows(row0, rows) = mj.prediction.probs;
      }
    }
  }
  add_sampled_rows(head, sampled, workload_.scale(), causal, accuracy);
  if (stride > 1)
    for (auto& a : accuracy) a.sampled = true;  // every stride-th row: an estimate
  for (size_t t = 0; t < accuracy.size(); ++t) {
    layer.accuracy.merge(accuracy[t]);
    layer.dense_macs += 2 * accuracy[t].allowed * d;
    if (cache_ && !cached) record.tiles[t].accuracy = accuracy[t];
  }
  if (dump_) dump_->add_head(hd);
  if (cache_ && !cached) cache_->store(layer_index, head_index, record);
}

void Controller::run() {
  try {
    tlm_utils::tlm_quantumkeeper::set_global_quantum(sc_core::sc_time(1, sc_core::SC_US));
    qk_.reset();
    Cycles previous_horizon = 0;
    const int layers = workload_.simulated_layers();
    for (int l = 0; l < layers; ++l) {
      PeriodStats layer;
      for (int b = 0; b < workload_.batch; ++b) {
        const std::vector<HeadTensors> heads = source_.layer(b, l);
        layer_rows_.clear();
        if (arch_.mask_unit.is(sanger_predictor_unit()) &&
            arch_.mask_unit.get<SangerPredictorConfig>().quant_scope_layer) {
          // One absmax over the layer's heads (of this batch element).
          layer_absmax_q_ = layer_absmax_k_ = 0;
          for (const auto& head : heads) {
            layer_rows_.push_back(predictor_rows(head.q, head.k, arch_.mask_unit.get<SangerPredictorConfig>().normalize_qk));
            layer_absmax_q_ = std::max(layer_absmax_q_, absmax_f32(layer_rows_.back().q));
            layer_absmax_k_ = std::max(layer_absmax_k_, absmax_f32(layer_rows_.back().k));
          }
        }
        for (size_t h = 0; h < heads.size(); ++h)
          run_head(heads[h], l, b * workload_.heads + static_cast<int>(h), layer);
      }
      const Cycles horizon = pipeline_.horizon();
      layer.cycles = horizon - previous_horizon;
      previous_horizon = horizon;
      stats_.layers.push_back(layer);
      stats_.total.merge(layer);
      if (progress_) progress_(l + 1, layers);
    }
    advance(pipeline_.finish());
    qk_.sync();
    finished_ = true;
    sc_core::sc_stop();  // a cycle-accurate unit's clock would otherwise tick forever
  } catch (...) {
    error_ = std::current_exception();
    sc_core::sc_stop();
  }
}

}  // namespace attnsim
