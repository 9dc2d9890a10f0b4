#include "controller/controller.h"

#include <numeric>

#include "common/jobs.h"
#include "controller/tile_traffic.h"

namespace attnsim {

bool takes_structured_masks(const ArchConfig& arch, bool causal) {
  bool all = arch.fidelity == Fidelity::fast && causal;
  for (const UnitChoice* u : arch.units()) all = all && u->unit->caps.structured_masks;
  return all;
}

Controller::Controller(sc_core::sc_module_name name, const ArchConfig& arch, const WorkloadSpec& workload,
                       WorkloadSource& source, std::vector<RunObserver*> observers, Progress progress,
                       ControllerOptions options)
    : sc_module(name),
      dram_socket("dram_socket"),
      mask_socket("mask_socket"),
      encoder_socket("encoder_socket"),
      pe_socket("pe_socket"),
      arch_(arch),
      workload_(workload),
      source_(source),
      observers_(std::move(observers)),
      progress_(std::move(progress)),
      options_(options),
      period_(1.0 / arch.clock_ghz, sc_core::SC_NS),
      pipeline_(arch.memory.double_buffer) {
  for (const auto& [buffer, kib] : arch.memory.buffer_kib())
    sram_.emplace(buffer, SramBuffer(static_cast<int64_t>(kib) * 1024, arch.memory.double_buffer));
  stats_.query_rows = arch.query_tile_rows(workload.seq_len, workload.head_dim);
  const int64_t row_bytes = static_cast<int64_t>(workload.head_dim) * arch.pe_array.number_format.bytes();
  const int64_t head_bytes = static_cast<int64_t>(workload.seq_len) * row_bytes;
  stats_.kv_resident = sram_.at("k").fits(head_bytes) && sram_.at("v").fits(head_bytes);
  structured_ = options_.structured_masks && takes_structured_masks(arch, workload.causal);
  for (const RunObserver* o : observers_) structured_ = structured_ && !o->wants_csr_masks();
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

PreparedHead Controller::prepare(int batch_index, int layer, int head) const {
  PreparedHead p;
  p.tensors = source_.head(batch_index, layer, head);
  p.operands = prepare_operands(p.tensors.k, p.tensors.v, arch_.pe_array.number_format);
  bool dumping = false;
  for (const RunObserver* o : observers_) dumping = dumping || o->wants_dump_data();
  if (mask_module_)
    p.mask_unit = mask_module_->prepare_head(p.tensors, layer, batch_index * workload_.heads + head,
                                             workload_.scale(), dumping);
  for (const RunObserver* o : observers_) p.observers.push_back(o->prepare_head(p.tensors));
  return p;
}

void Controller::run_head(const HeadTensors& head, const std::vector<HeadTensors>* layer_heads,
                          const PreparedHead* prepared, int layer_index, int head_index, PeriodStats& layer) {
  const int S = workload_.seq_len, d = workload_.head_dim, QT = stats_.query_rows;
  const bool causal = workload_.causal;
  const bool mask_unit = !arch_.mask_unit.none();
  const bool learns = arch_.mask_unit.unit->caps.learns;  // gets each computed tile back
  const bool encoder = !arch_.encoder.none();
  const int key_block = encoder ? arch_.encoder.unit->key_block(arch_) : arch_.pe_array.unit->key_block(arch_);
  bool dumping = false, probabilities = learns;
  int value_stride = 0;  // rows whose values someone reads: r % value_stride == 0 (0: none)
  for (const RunObserver* o : observers_) {
    dumping = dumping || o->wants_dump_data();
    probabilities = probabilities || o->wants_probabilities();
    value_stride = std::gcd(value_stride, o->value_row_stride());
  }
  if (probabilities) value_stride = 1;  // a unit learning from the tile reads every row
  std::vector<int> value_rows;

  AttentionNumerics num{arch_.pe_array.number_format, arch_.pe_array.prob_format, arch_.pe_array.exp,
                        workload_.scale()};
  num.probabilities = probabilities;  // else nothing reads them
  HeadOperands own_kv;
  if (!prepared) own_kv = prepare_operands(head.k, head.v, num.data);
  const HeadOperands& kv = prepared ? prepared->operands : own_kv;
  // Functional results of an earlier run with the same values, if an observer has them.
  const CachedHead* cached = nullptr;
  for (RunObserver* o : observers_)
    if (!cached) cached = o->cached_head(layer_index, head_index);
  if (cached) ++cache_hits_;
  for (size_t i = 0; i < observers_.size(); ++i)
    observers_[i]->head_begin(head, layer_index, head_index, prepared ? prepared->observers[i] : nullptr);
  const uint64_t head_address = static_cast<uint64_t>(stats_.total.dram_bursts + layer.dram_bursts) << 20;

  for (int row0 = 0, tile = 0; row0 < S; row0 += QT, ++tile) {
    const int rows = std::min(QT, S - row0);
    const MatF q_tile = head.q.middleRows(row0, rows);
    const CachedTile* known = cached ? &cached->tiles[tile] : nullptr;

    Cycles mask_cycles = 0;
    MaskJob mj;
    CsrMask full;
    std::optional<TileShape> dense_shape;
    const CsrMask* mask = &full;
    const TileShape* shape = nullptr;  // the mask's structure instead (structured_)
    if (mask_unit) {
      mj.structured = structured_;
      mj.head = &head;
      mj.layer_heads = layer_heads;
      if (prepared && row0 == 0) mj.prepared = prepared->mask_unit;
      mj.layer = layer_index;
      mj.head_index = head_index;
      mj.row0 = row0;
      mj.rows = rows;
      mj.causal = causal;
      mj.scale = workload_.scale();
      mj.dumping = dumping;
      if (known) mj.known_mask = &known->mask;
      send_job(mask_socket, mj);
      mask_cycles += mj.work.cycles;
      layer.units["mask_unit"].merge(mj.work);
      mask = &mj.prediction.mask;
      if (mj.shape) shape = &*mj.shape, mask = nullptr;
      if (known && row0 == 0) mj.head_info = cached->head_info;
      if (row0 == 0 && !mj.head_info.is_null()) {
        nlohmann::json info = mj.head_info;
        info["head"] = head_index;
        layer.heads.push_back(info);
      }
    } else if (structured_) {
      dense_shape = dense_causal_shape(row0, rows, S);
      shape = &*dense_shape, mask = nullptr;
    } else {
      full = CsrMask::full(rows, S, causal, row0);
    }
    EncodeJob ej;
    if (encoder) {
      ej.mask = mask;
      ej.shape = shape;
      send_job(encoder_socket, ej);
      mask_cycles += ej.work.cycles;
      layer.units["encoder"].merge(ej.work);
    }
    if (shape) ++structured_tiles_;
    ComputeJob cj;
    cj.q_tile = &q_tile;
    cj.kv = &kv;
    cj.mask = mask;
    cj.shape = shape;
    cj.schedule = encoder ? &ej.schedule : nullptr;
    cj.numerics = num;
    cj.causal = causal;
    cj.row0 = row0;
    cj.layer = layer_index;
    cj.timing_only = known != nullptr;
    if (value_stride != 1) {
      value_rows.clear();
      if (value_stride > 1)
        for (int i = (value_stride - row0 % value_stride) % value_stride; i < rows; i += value_stride)
          value_rows.push_back(i);
      cj.value_rows = &value_rows;
    }
    if (!mj.prediction.row_max.empty()) cj.predicted_row_max = &mj.prediction.row_max;
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
      observe.causal = causal;
      observe.scale = workload_.scale();
      observe.observed_mask = mask;
      observe.observed = &cj.result;
      send_job(mask_socket, observe);
      layer.units["mask_unit"].merge(observe.work);  // no cycles; its operations count for energy
    }

    TileTrafficInput in;
    in.rows = rows;
    in.active_rows = row_active ? std::count(row_active->begin(), row_active->end(), 1) : static_cast<int64_t>(rows);
    in.head_dim = d;
    in.element_bytes = arch_.pe_array.number_format.bytes();
    in.seq_len = S;
    in.kv_resident = stats_.kv_resident;
    in.first_tile = row0 == 0;
    if (!stats_.kv_resident) in.needed_keys = shape ? needed_keys(*shape, key_block) : needed_keys(*mask, key_block);
    in.mask_unit_keys = mj.k_keys_read;
    in.k_fetch_scale = cj.k_fetch_scale;
    in.v_fetch_scale = cj.v_fetch_scale;
    in.score_buffer_bytes = cj.score_buffer_bytes;
    const TileTraffic t = tile_traffic(in, sram_.at("score"), sram_.at("output"));
    const int64_t row_offset = static_cast<int64_t>(row0) * d * in.element_bytes;
    const Cycles load = dram_burst(false, head_address + row_offset, t.load_bytes, layer);
    const Cycles store = dram_burst(true, head_address + (1u << 19) + row_offset, t.store_bytes, layer);
    layer.dram_bytes_dense += t.dense_bytes;
    pipeline_.add(load, mask_cycles, compute_cycles, store);
    layer.dram_busy_cycles += load + store;
    advance(pipeline_.horizon());

    auto& sr = layer.sram;
    sr["q"].bytes_written += t.q_bytes;
    sr["k"].bytes_written += t.k_bytes;
    sr["v"].bytes_written += t.v_bytes;
    sr["score"].bytes_spilled += t.score_spill;
    sr["output"].bytes_spilled += t.output_spill;
    for (const auto* w : {&mj.work, &ej.work, &cj.work}) {
      for (const auto& [buf, bytes] : w->sram_read_bytes) sr[buf].bytes_read += bytes;
      for (const auto& [buf, bytes] : w->sram_write_bytes) sr[buf].bytes_written += bytes;
    }

    TileEvent e;
    e.layer = layer_index;
    e.head_index = head_index;
    e.tile = tile;
    e.row0 = row0;
    e.rows = rows;
    e.q_tile = &q_tile;
    e.mask = mask;
    e.shape = shape;
    e.mask_job = mask_unit ? &mj : nullptr;
    e.compute = &cj;
    e.row_active = row_active;
    e.known = known;
    for (RunObserver* o : observers_) o->tile(e);
  }
  for (RunObserver* o : observers_) o->head_end(layer_index, head_index, layer);
}

void Controller::run() {
  try {
    tlm_utils::tlm_quantumkeeper::set_global_quantum(sc_core::sc_time(1, sc_core::SC_US));
    qk_.reset();
    Cycles previous_horizon = 0;
    const int layers = workload_.simulated_layers(), B = workload_.batch, H = workload_.heads;
    // One head in memory at a time, prepared ahead on the pool, unless the
    // mask unit reads the whole layer.
    const bool whole_layers = arch_.mask_unit.unit->caps.reads_whole_layer;
    HeadPrefetch prefetch(whole_layers ? 0 : layers * B * H, options_.threads, [this, B, H](int n) {
      return prepare(n / H % B, n / (B * H), n % H);
    });
    for (int l = 0; l < layers; ++l) {
      PeriodStats layer;
      for (int b = 0; b < B; ++b) {
        // Progress by head: a 128k-token layer takes a minute.
        auto head_done = [&, total = layers * B * H](int h) {
          if (progress_) progress_((l * B + b) * H + h + 1, total);
        };
        if (whole_layers) {
          const std::vector<HeadTensors> heads = source_.layer(b, l);
          for (int h = 0; h < H; ++h) run_head(heads[h], &heads, nullptr, l, b * H + h, layer), head_done(h);
          continue;
        }
        for (int h = 0; h < H; ++h) {
          const PreparedHead p = prefetch.next();
          run_head(p.tensors, nullptr, &p, l, b * H + h, layer);
          head_done(h);
        }
      }
      const Cycles horizon = pipeline_.horizon();
      layer.cycles = horizon - previous_horizon;
      previous_horizon = horizon;
      stats_.layers.push_back(layer);
      stats_.total.merge(layer);
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
