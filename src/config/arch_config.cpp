#include "config/arch_config.h"

#include "util/error.h"
#include "util/json_reader.h"

namespace attnsim {

namespace {

NumberFormat read_format(JsonReader& r, const std::string& key, const std::string& def) {
  const std::string text = r.string(key, def);
  try {
    return NumberFormat::parse(text);
  } catch (const std::invalid_argument& e) {
    r.fail(key, "bad number format '" + text + "': " + e.what());
  }
}

int read_int(JsonReader& r, const std::string& key, int def, int lo, int hi) {
  return static_cast<int>(r.integer(key, def, lo, hi));
}

}  // namespace

ArchConfig ArchConfig::load(const std::string& file) { return from_json(JsonReader::load_file(file), file); }

ArchConfig ArchConfig::from_json(const nlohmann::json& j, const std::string& file) {
  ArchConfig a;
  JsonReader r(j, file);
  a.name = r.string("name", std::nullopt);
  a.description = r.string("description", "");
  a.clock_ghz = r.number("clock_ghz", 1.0, 0.01, 10.0);
  a.fidelity = r.string("fidelity", "fast", {"fast"});

  {
    auto m = r.object("mask_unit");
    auto& c = a.mask_unit;
    c.kind = m.string("kind", "none", {"none", "sanger_predictor"});
    if (c.kind == "sanger_predictor") {
      c.bits = read_int(m, "bits", 4, 2, 8);
      c.threshold = m.number("threshold", 2e-3, 0.0, 1.0);
      c.keep_row_max = m.boolean("keep_row_max", true);
      auto arr = m.object("array");
      c.array_rows = read_int(arr, "rows", 64, 1, 4096);
      c.array_cols = read_int(arr, "cols", 64, 1, 4096);
      arr.finish();
      c.softmax_lanes = read_int(m, "softmax_lanes", 64, 1, 4096);
      c.softmax_latency_cycles = read_int(m, "softmax_latency_cycles", 8, 0, 1000);
    }
    m.finish();
  }
  {
    auto e = r.object("encoder");
    auto& c = a.encoder;
    c.kind = e.string("kind", "none", {"none", "pack_split"});
    if (c.kind == "pack_split") {
      c.segment_width = read_int(e, "segment_width", 64, 1, 4096);
      c.segments_per_cycle = read_int(e, "segments_per_cycle", 1, 1, 1024);
    }
    e.finish();
  }
  {
    auto p = r.object("pe_array");
    auto& c = a.pe_array;
    c.kind = p.string("kind", std::nullopt, {"score_stationary", "systolic_os"});
    c.rows = read_int(p, "rows", 64, 1, 4096);
    if (c.kind == "score_stationary") {
      c.pes_per_row = read_int(p, "pes_per_row", 16, 1, 4096);
      c.clear_cycles = read_int(p, "clear_cycles", 1, 0, 1000);
      c.switch_cycles = read_int(p, "switch_cycles", 1, 0, 1000);
      c.exp_latency_cycles = read_int(p, "exp_latency_cycles", 2, 0, 1000);
      c.io_latency_cycles = read_int(p, "io_latency_cycles", 2, 0, 1000);
      c.divide_latency_cycles = read_int(p, "divide_latency_cycles", 20, 0, 1000);
    } else {
      c.cols = read_int(p, "cols", 64, 1, 4096);
      c.softmax_lanes = read_int(p, "softmax_lanes", 64, 1, 4096);
      c.softmax_latency_cycles = read_int(p, "softmax_latency_cycles", 8, 0, 1000);
      c.divide_latency_cycles = read_int(p, "divide_latency_cycles", 20, 0, 1000);
    }
    c.number_format = read_format(p, "number_format", "fp32");
    c.prob_format = read_format(p, "prob_format", c.number_format.is_fixed() ? "fixed16.14" : "fp32");
    const std::string exp = p.string("exp", "exact");
    try {
      c.exp = ExpUnit::parse(exp);
    } catch (const std::invalid_argument& e) {
      p.fail("exp", "bad exp unit '" + exp + "': " + e.what());
    }
    p.finish();
  }
  {
    auto m = r.object("memory");
    auto& c = a.memory;
    auto d = m.object("dram");
    c.dram.channels = read_int(d, "channels", 8, 1, 1024);
    c.dram.bandwidth_gbps = d.number("bandwidth_gbps", 128, 0.1, 1e5);
    c.dram.latency_ns = d.number("latency_ns", 100, 0, 1e5);
    c.dram.interleave_bytes = read_int(d, "interleave_bytes", 64, 1, 1 << 20);
    d.finish();
    auto s = m.object("sram_kib");
    c.q_kib = read_int(s, "q", 64, 1, 1 << 20);
    c.k_kib = read_int(s, "k", 64, 1, 1 << 20);
    c.v_kib = read_int(s, "v", 64, 1, 1 << 20);
    c.score_kib = read_int(s, "score", 32, 1, 1 << 20);
    c.output_kib = read_int(s, "output", 32, 1, 1 << 20);
    s.finish();
    c.double_buffer = m.boolean("double_buffer", true);
    m.finish();
  }
  {
    auto t = r.object("tiling");
    a.tiling.query_rows = read_int(t, "query_rows", 64, 1, 1 << 20);
    t.finish();
  }
  r.finish();

  // Cross-field rules.
  if (a.pe_array.kind == "score_stationary" && a.encoder.kind != "pack_split")
    throw InputError(file, "encoder.kind", "the score_stationary array needs the pack_split encoder");
  if (a.pe_array.kind == "systolic_os" && a.encoder.kind != "none")
    throw InputError(file, "encoder.kind", "the systolic_os array takes no encoder (expected \"none\")");
  if (a.encoder.kind == "pack_split" && a.pe_array.pes_per_row > a.encoder.segment_width)
    throw InputError(file, "pe_array.pes_per_row", "must not exceed encoder.segment_width (" +
                                                       std::to_string(a.encoder.segment_width) + ")");
  return a;
}

nlohmann::json ArchConfig::to_json() const {
  nlohmann::json j;
  j["name"] = name;
  if (!description.empty()) j["description"] = description;
  j["clock_ghz"] = clock_ghz;
  j["fidelity"] = fidelity;
  auto& m = j["mask_unit"];
  m["kind"] = mask_unit.kind;
  if (mask_unit.kind == "sanger_predictor") {
    m["bits"] = mask_unit.bits;
    m["threshold"] = mask_unit.threshold;
    m["keep_row_max"] = mask_unit.keep_row_max;
    m["array"] = {{"rows", mask_unit.array_rows}, {"cols", mask_unit.array_cols}};
    m["softmax_lanes"] = mask_unit.softmax_lanes;
    m["softmax_latency_cycles"] = mask_unit.softmax_latency_cycles;
  }
  auto& e = j["encoder"];
  e["kind"] = encoder.kind;
  if (encoder.kind == "pack_split") {
    e["segment_width"] = encoder.segment_width;
    e["segments_per_cycle"] = encoder.segments_per_cycle;
  }
  auto& p = j["pe_array"];
  p["kind"] = pe_array.kind;
  p["rows"] = pe_array.rows;
  if (pe_array.kind == "score_stationary") {
    p["pes_per_row"] = pe_array.pes_per_row;
    p["clear_cycles"] = pe_array.clear_cycles;
    p["switch_cycles"] = pe_array.switch_cycles;
    p["exp_latency_cycles"] = pe_array.exp_latency_cycles;
    p["io_latency_cycles"] = pe_array.io_latency_cycles;
  } else {
    p["cols"] = pe_array.cols;
    p["softmax_lanes"] = pe_array.softmax_lanes;
    p["softmax_latency_cycles"] = pe_array.softmax_latency_cycles;
  }
  p["divide_latency_cycles"] = pe_array.divide_latency_cycles;
  p["number_format"] = pe_array.number_format.name();
  p["prob_format"] = pe_array.prob_format.name();
  p["exp"] = pe_array.exp.name();
  auto& mem = j["memory"];
  mem["dram"] = {{"channels", memory.dram.channels},
                 {"bandwidth_gbps", memory.dram.bandwidth_gbps},
                 {"latency_ns", memory.dram.latency_ns},
                 {"interleave_bytes", memory.dram.interleave_bytes}};
  mem["sram_kib"] = {{"q", memory.q_kib}, {"k", memory.k_kib}, {"v", memory.v_kib},
                     {"score", memory.score_kib}, {"output", memory.output_kib}};
  mem["double_buffer"] = memory.double_buffer;
  j["tiling"] = {{"query_rows", tiling.query_rows}};
  return j;
}

}  // namespace attnsim
