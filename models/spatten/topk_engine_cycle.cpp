#include "spatten/topk_engine_cycle.h"

#include <deque>
#include <stdexcept>
#include <string>

namespace attnsim {
namespace {

// One lane of a row: a candidate's value and its position in the input.
struct Lane {
  double value = 0;
  int index = 0;
};
using Row = std::vector<Lane>;

// Keeps the flagged lanes in order, packed to the front: the zero-eliminator
// (a prefix sum of the flags gives each kept lane its output slot).
Row zero_eliminate(const Row& in, const std::vector<char>& keep) {
  Row out;
  for (size_t i = 0; i < in.size(); ++i)
    if (keep[i]) out.push_back(in[i]);
  return out;
}

// A partition FIFO: a RAM of rows with one write and one read port, and a
// tail register packing up to P lanes a cycle into full rows. A partial row
// reaches the RAM only when the FIFO is sealed (at a round's pivot cycle).
struct PartitionFifo {
  int parallelism = 1;
  int64_t capacity_rows = 0;
  std::deque<Row> ram;
  Row tail;
  int64_t count = 0;  // lanes held, RAM and tail
  int ram_writes = 0, ram_reads = 0;  // this cycle's port uses

  void new_cycle() { ram_writes = ram_reads = 0; }
  void write_ram(Row row) {
    if (++ram_writes > 1) throw std::logic_error("two writes to a partition FIFO's RAM in one cycle");
    ram.push_back(std::move(row));
    if (static_cast<int64_t>(ram.size()) > capacity_rows) throw std::logic_error("partition FIFO overflow");
  }
  void push(const Row& lanes) {  // at most P lanes: at most one full row leaves the tail
    if (static_cast<int>(lanes.size()) > parallelism) throw std::logic_error("more than P lanes into a FIFO");
    tail.insert(tail.end(), lanes.begin(), lanes.end());
    count += static_cast<int64_t>(lanes.size());
    if (static_cast<int>(tail.size()) >= parallelism) {
      write_ram(Row(tail.begin(), tail.begin() + parallelism));
      tail.erase(tail.begin(), tail.begin() + parallelism);
    }
  }
  void seal() {
    if (!tail.empty()) write_ram(std::move(tail));
    tail.clear();
  }
  Row pop() {
    if (++ram_reads > 1) throw std::logic_error("two reads of a partition FIFO's RAM in one cycle");
    if (ram.empty()) throw std::logic_error("pop from an empty partition FIFO");
    Row r = std::move(ram.front());
    ram.pop_front();
    count -= static_cast<int64_t>(r.size());
    return r;
  }
  void flush() {
    ram.clear();
    tail.clear();
    count = 0;
  }
};

enum class Phase { pivot, partition, emit, done };

}  // namespace

struct TopKEngineCycle::Datapath {
  int P = 1;
  TopKPivot pivot_rule = TopKPivot::random;
  std::vector<double> input;  // the input score buffer (read by the emit pass)
  int n = 0, k = 0;
  Phase phase = Phase::done;
  PartitionFifo fifo[2];  // 0: below the pivot, 1: above
  int cur = 0;            // the FIFO holding the current candidates

  // Round registers.
  int want = 0;            // how many of the largest the candidates must still supply
  double pivot = 0;
  int64_t rows_left = 0;   // candidate rows not yet popped
  int64_t larger = 0, equal = 0, smaller = 0;
  int rounds = 0;

  // Compare stage register: the row, each lane's side (+1 above, 0 equal, -1 below).
  struct {
    bool valid = false, last = false;
    Row row;
    std::vector<signed char> side;
  } cmp;
  // Zero-eliminator registers: the lanes for FIFO 0 and FIFO 1.
  struct {
    bool valid = false, last = false;
    Row out[2];
  } ze;

  // Emit registers.
  double kth = 0;
  bool take_all = false;   // k == n: every index, no partition rounds
  int ties_left = 0;       // lanes equal to kth still to keep
  int ties_seen = 0;       // running tie counter
  int64_t emit_row = 0;    // next input row to read
  struct {
    bool valid = false, last = false;
    Row row;
    std::vector<char> keep;
  } emit_cmp;
  struct {
    bool valid = false, last = false;
    Row kept;
  } emit_ze;
  std::vector<int> result;

  Cycles job_cycle = 0;
  std::string error;

  void load(const std::vector<double>& values, int k_in) {
    input = values;
    n = static_cast<int>(values.size());
    k = k_in;
    for (auto& f : fifo) {
      f = PartitionFifo{};
      f.parallelism = P;
      f.capacity_rows = ceil_div(n, P) + 1;
    }
    // The producer streams the values into FIFO 0 (P a cycle, overlapped
    // with its own work: not the engine's cycles).
    for (int i = 0; i < n; ++i) {
      fifo[0].tail.push_back({values[i], i});
      ++fifo[0].count;
      if (static_cast<int>(fifo[0].tail.size()) == P) {
        fifo[0].ram.push_back(fifo[0].tail);
        fifo[0].tail.clear();
      }
    }
    cur = 0;
    want = k;
    rounds = 0;
    cmp = {};
    ze = {};
    emit_cmp = {};
    emit_ze = {};
    ties_seen = 0;
    emit_row = 0;
    result.clear();
    job_cycle = 0;
    error.clear();
    take_all = k == n;
    phase = take_all ? Phase::emit : Phase::pivot;
  }

  // One clock cycle. Stages update back to front, so each reads the
  // register values of the previous edge.
  void cycle() {
    for (auto& f : fifo) f.new_cycle();
    ++job_cycle;
    switch (phase) {
      case Phase::pivot: pivot_cycle(); break;
      case Phase::partition: partition_cycle(); break;
      case Phase::emit: emit_cycle(); break;
      case Phase::done: break;
    }
  }

  // Round start: the candidates' tail row goes to the RAM, the pivot register
  // loads the middle candidate (bypassing the row just written).
  void pivot_cycle() {
    PartitionFifo& f = fifo[cur];
    f.seal();
    const int64_t m = f.count, mid = topk_pivot_position(pivot_rule, rounds, m);
    const Row& row = f.ram[static_cast<size_t>(mid / P)];
    pivot = row[static_cast<size_t>(mid % P)].value;
    rows_left = static_cast<int64_t>(f.ram.size());
    larger = equal = smaller = 0;
    ++rounds;
    phase = Phase::partition;
  }

  void partition_cycle() {
    // FIFO write stage: the zero-eliminators' registers into the FIFOs' tails.
    bool decide = false;
    if (ze.valid) {
      fifo[0].push(ze.out[0]);
      fifo[1].push(ze.out[1]);
      decide = ze.last;
    }
    // Zero-eliminator stage.
    ze.valid = cmp.valid;
    if (cmp.valid) {
      ze.last = cmp.last;
      std::vector<char> below(cmp.row.size()), above(cmp.row.size());
      for (size_t i = 0; i < cmp.row.size(); ++i) below[i] = cmp.side[i] < 0, above[i] = cmp.side[i] > 0;
      ze.out[0] = zero_eliminate(cmp.row, below);
      ze.out[1] = zero_eliminate(cmp.row, above);
    }
    // Compare stage: one candidate row a cycle against the pivot register.
    cmp.valid = rows_left > 0;
    if (cmp.valid) {
      cmp.row = fifo[cur].pop();
      cmp.last = --rows_left == 0;
      cmp.side.resize(cmp.row.size());
      for (size_t i = 0; i < cmp.row.size(); ++i) {
        const double v = cmp.row[i].value;
        cmp.side[i] = v > pivot ? 1 : v < pivot ? -1 : 0;
        larger += v > pivot;
        smaller += v < pivot;
        equal += v == pivot;
      }
    }
    if (decide) decide_round();
  }

  // After the round's last row is in the FIFOs: where the k-th value lies.
  void decide_round() {
    if (larger >= want) {  // all of it above the pivot
      cur = 1;
      fifo[0].flush();
      phase = Phase::pivot;
    } else if (larger + equal >= want) {  // the pivot is the k-th value
      kth = pivot;
      ties_left = want - static_cast<int>(larger);
      fifo[0].flush();
      fifo[1].flush();
      phase = Phase::emit;
    } else {  // below the pivot; everything above and equal is in the top k
      want -= static_cast<int>(larger + equal);
      cur = 0;
      fifo[1].flush();
      phase = Phase::pivot;
    }
    if (phase == Phase::pivot && fifo[cur].count == 0) fail("round left no candidates");
  }

  void emit_cycle() {
    // Output stage: the packed indices leave the engine.
    if (emit_ze.valid) {
      for (const Lane& l : emit_ze.kept) result.push_back(l.index);
      if (emit_ze.last) phase = Phase::done;
    }
    // Zero-eliminator stage.
    emit_ze.valid = emit_cmp.valid;
    if (emit_cmp.valid) {
      emit_ze.last = emit_cmp.last;
      emit_ze.kept = zero_eliminate(emit_cmp.row, emit_cmp.keep);
    }
    // Read and compare stage: P input lanes against the k-th value; a tie is
    // kept while the running counter plus its prefix in the row is below
    // ties_left.
    const int64_t rows = ceil_div(n, P);
    emit_cmp.valid = emit_row < rows;
    if (emit_cmp.valid) {
      emit_cmp.row.clear();
      emit_cmp.keep.clear();
      const int lo = static_cast<int>(emit_row * P), hi = std::min(n, lo + P);
      int prefix = 0;
      for (int i = lo; i < hi; ++i) {
        const double v = input[static_cast<size_t>(i)];
        const bool tie = !take_all && v == kth;
        emit_cmp.row.push_back({v, i});
        emit_cmp.keep.push_back(take_all || v > kth || (tie && ties_seen + prefix < ties_left));
        prefix += tie;
      }
      ties_seen += prefix;
      emit_cmp.last = ++emit_row == rows;
    }
  }

  void fail(const std::string& what) {
    if (error.empty()) error = what + " (cycle " + std::to_string(job_cycle) + ")";
    phase = Phase::done;
  }
};

TopKEngineCycle::TopKEngineCycle(sc_core::sc_module_name name, int parallelism, double clock_ghz, TopKPivot pivot)
    : sc_module(name),
      parallelism_(parallelism),
      pivot_(pivot),
      clock_("clock", sc_core::sc_time(1.0 / clock_ghz, sc_core::SC_NS)),
      dp_(std::make_unique<Datapath>()) {
  reconfigure(parallelism, pivot);
}

TopKEngineCycle::~TopKEngineCycle() = default;

void TopKEngineCycle::reconfigure(int parallelism, TopKPivot pivot) {
  if (clock_.active()) throw std::logic_error("top-k engine: reconfigure during a selection");
  if (parallelism < 1) throw std::invalid_argument("top-k engine: parallelism must be >= 1");
  parallelism_ = parallelism;
  pivot_ = pivot;
}

TopK TopKEngineCycle::select(const std::vector<double>& values, int k) {
  Datapath& dp = *dp_;
  dp.P = parallelism_;
  dp.pivot_rule = pivot_;
  const int n = static_cast<int>(values.size());
  k = std::max(0, std::min(k, n));
  TopK out;
  if (k == 0) return out;  // nothing to select: the engine is not started
  dp.load(values, k);
  const Cycles elapsed = clock_.run([&dp] {
    dp.cycle();
    return dp.phase != Phase::done;
  });
  if (dp.error.empty() && elapsed != dp.job_cycle)
    dp.fail("simulated time " + std::to_string(elapsed) + " cycles, counted " + std::to_string(dp.job_cycle));
  if (!dp.error.empty()) throw std::runtime_error("top-k engine cycle model: " + dp.error);
  out.indices = std::move(dp.result);
  out.rounds = dp.rounds;
  out.cycles = dp.job_cycle;
  return out;
}

}  // namespace attnsim
