#include "config/arch_config.h"

#include <algorithm>
#include <filesystem>

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

TopKPivot read_topk_pivot(JsonReader& r) {
  return r.string("topk_pivot", "random", {"random", "middle"}) == "middle" ? TopKPivot::middle : TopKPivot::random;
}

FoldDrain read_fold_drain(JsonReader& r) {
  return r.string("fold_drain", "in_skew", {"in_skew", "after_fold"}) == "after_fold" ? FoldDrain::after_fold
                                                                                      : FoldDrain::in_skew;
}

int read_int(JsonReader& r, const std::string& key, int def, int lo, int hi) {
  return static_cast<int>(r.integer(key, def, lo, hi));
}

// --- SpAtten cascade pruning (spatten_pruner; docs/spatten.md) ---
KeepSchedule read_keep_schedule(JsonReader& m, const std::string& key, const KeepSchedule& def) {
  auto o = m.object(key);
  KeepSchedule s = def;
  s.start_fraction = o.number("start_fraction", def.start_fraction, 0.0, 1.0);
  s.final_keep = o.number("final_keep", def.final_keep, 0.0, 1.0);
  if (o.has("per_layer")) {
    const auto& list = o.raw("per_layer");
    if (!list.is_array() || list.empty()) o.fail("per_layer", "expected a non-empty array of keep fractions");
    for (const auto& x : list) {
      if (!x.is_number() || x.get<double>() < 0 || x.get<double>() > 1)
        o.fail("per_layer", "expected numbers from 0 to 1, got " + x.dump());
      s.explicit_keep.push_back(x.get<double>());
    }
  }
  o.finish();
  return s;
}

void read_spatten_pruner(JsonReader& m, MaskUnitConfig& c) {
  c.token_keep = read_keep_schedule(m, "token_keep", c.token_keep);
  c.head_keep = read_keep_schedule(m, "head_keep", c.head_keep);
  c.topk_parallelism = static_cast<int>(m.integer("topk_parallelism", 16, 1, 4096));
  c.topk_pivot = read_topk_pivot(m);
}

nlohmann::json keep_schedule_json(const KeepSchedule& s) {
  nlohmann::json j = {{"start_fraction", s.start_fraction}, {"final_keep", s.final_keep}};
  if (!s.explicit_keep.empty()) j["per_layer"] = s.explicit_keep;
  return j;
}

// --- DynamiQK mask units (pattern_detector, static_pattern; docs/dynamiqk.md) ---
void read_pattern_detector(JsonReader& m, MaskUnitConfig& c, const std::string& file) {
  auto& d = c.detector;
  if (m.has("candidates")) {
    const auto& a = m.raw("candidates");
    static const std::vector<std::string> known{"a_shape", "tri_shape", "grid", "block_sparse", "vertical_slash"};
    if (!a.is_array() || a.empty()) m.fail("candidates", "expected a non-empty array of pattern names");
    d.candidates.clear();
    for (const auto& x : a) {
      if (!x.is_string() || std::find(known.begin(), known.end(), x.get<std::string>()) == known.end())
        m.fail("candidates", "unknown candidate " + x.dump() +
                                 " (expected some of: a_shape, tri_shape, grid, block_sparse, vertical_slash)");
      if (std::find(d.candidates.begin(), d.candidates.end(), x.get<std::string>()) != d.candidates.end())
        m.fail("candidates", "candidate " + x.dump() + " listed twice");
      d.candidates.push_back(x.get<std::string>());
    }
  }
  d.budget = m.number("budget", 0.1, 1e-4, 1.0);
  d.budget_slack = m.number("budget_slack", 0.1, 0.0, 10.0);
  d.min_mass = m.number("min_mass", 0.5, 0.0, 1.0);
  d.select_delta = m.number("select_delta", 0.01, 0.0, 1.0);
  d.boundary_delta = m.number("boundary_delta", 0.03, 0.0, 1.0);
  d.skip_mass = m.number("skip_mass", 0.01, 0.0, 1.0);
  d.vertical_share = m.number("vertical_share", 0.3, 0.0, 1.0);
  d.block_granular = m.string("granularity", "block", {"block", "exact"}) == "block";
  d.a_shape_block_granular = m.string("a_shape_granularity", "exact", {"exact", "block"}) == "block";
  d.block_sparse_force_diagonal = m.string("block_sparse_diagonal", "scored", {"scored", "forced"}) == "forced";
  d.block = read_int(m, "block_size", 64, 1, 4096);
  d.last_q = read_int(m, "last_q", 64, 1, 1 << 20);
  d.eval_groups = read_int(m, "eval_groups", 1, 1, 64);
  d.init_columns = read_int(m, "init_columns", 30, 0, 1 << 20);
  d.local_diagonals = read_int(m, "local_diagonals", 100, 1, 1 << 20);
  d.min_vertical = read_int(m, "min_vertical", 30, 1, 1 << 20);
  d.min_slash = read_int(m, "min_slash", 50, 1, 1 << 20);
  d.n_init = read_int(m, "n_init", 64, 0, 1 << 20);
  d.n_last = read_int(m, "n_last", 64, 1, 1 << 20);
  d.block_topk = read_int(m, "block_topk", 0, 0, 1 << 20);
  d.report_indices = m.boolean("report_indices", false);
  const std::string pf = m.string("pattern_file", "");
  if (!pf.empty()) {
    const std::filesystem::path p = pf, base = std::filesystem::path(file).parent_path();
    c.pattern_file = (p.is_absolute() || base.empty() ? p : base / p).lexically_normal().string();
    if (!std::filesystem::exists(c.pattern_file))
      m.fail("pattern_file", "file '" + c.pattern_file + "' does not exist");
  }
  auto arr = m.object("array");
  c.array_rows = read_int(arr, "rows", 32, 1, 4096);
  c.array_cols = read_int(arr, "cols", 32, 1, 4096);
  c.array_fold_drain = read_fold_drain(arr);
  arr.finish();
  c.softmax_lanes = read_int(m, "softmax_lanes", 32, 1, 4096);
  c.softmax_latency_cycles = read_int(m, "softmax_latency_cycles", 8, 0, 1000);
  c.topk_parallelism = read_int(m, "topk_parallelism", 16, 1, 4096);
  c.index_lanes = read_int(m, "index_lanes", 16, 1, 4096);
  c.emit_lanes = read_int(m, "emit_lanes", 64, 1, 1 << 16);
  if (d.min_vertical < d.init_columns)
    m.fail("min_vertical", "must be at least init_columns (" + std::to_string(d.init_columns) +
                               "): the forced first columns are part of the top-v");
}

void read_static_pattern(JsonReader& m, MaskUnitConfig& c) {
  auto& s = c.static_pattern;
  s.pattern = m.string("pattern", std::nullopt, {"local_stride", "a_shape", "tri_shape", "modality"});
  s.block = read_int(m, "block_size", 64, 1, 4096);
  s.local_blocks = read_int(m, "local_blocks", 16, 1, 1 << 20);
  s.vert_stride = read_int(m, "vert_stride", 8, 1, 1 << 20);
  s.head_sliding_offset = read_int(m, "head_sliding_offset", 0, 0, 1 << 20);
  s.homo_head = m.boolean("homo_head", false);
  s.n_init = read_int(m, "n_init", 64, 0, 1 << 20);
  s.n_local = read_int(m, "n_local", 1024, 1, 1 << 20);
  s.n_last = read_int(m, "n_last", 64, 1, 1 << 20);
  s.block_granular = m.string("granularity", "exact", {"block", "exact"}) == "block";
  const std::vector<std::string> rules{"causal", "same_segment", "none"};
  s.default_rule = m.string("default_rule", "causal", rules);
  s.modality_rules.clear();
  if (m.has("modality_rules")) {
    const auto& a = m.raw("modality_rules");
    if (!a.is_array()) m.fail("modality_rules", "expected an array of {\"q\", \"k\", \"rule\"} objects");
    for (size_t i = 0; i < a.size(); ++i) {
      JsonReader r(a[i], m.file(), m.path_of("modality_rules") + "[" + std::to_string(i) + "]");
      ModalityRule mr;
      mr.q = r.string("q", std::nullopt);
      mr.k = r.string("k", std::nullopt);
      mr.rule = r.string("rule", std::nullopt, rules);
      r.finish();
      s.modality_rules.push_back(mr);
    }
  }
  c.emit_lanes = read_int(m, "emit_lanes", 64, 1, 1 << 16);
}
// --- end DynamiQK ---

// A relative tech path is looked up next to the arch file, then in the
// repository (where configs/tech/ lives), so the presets and the default work
// from any working directory and for arch files written anywhere (sweeps).
std::string resolve_tech(const JsonReader& r, const std::string& text, const std::string& file) {
  namespace fs = std::filesystem;
  const fs::path p = text;
  std::vector<fs::path> candidates{p};
  if (!p.is_absolute()) candidates = {fs::path(file).parent_path() / p, fs::path(ATTNSIM_REPO_DIR) / p};
  std::string looked;
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c)) return c.lexically_normal().string();
    looked += (looked.empty() ? "" : ", ") + c.lexically_normal().string();
  }
  r.fail("tech", "technology table '" + text + "' not found (looked for " + looked + ")");
}

}  // namespace

const char* fold_drain_name(FoldDrain d) { return d == FoldDrain::after_fold ? "after_fold" : "in_skew"; }
const char* sweep_sync_name(SweepSync s) { return s == SweepSync::barrier ? "barrier" : "wavefront"; }

ArchConfig ArchConfig::load(const std::string& file) { return from_json(JsonReader::load_file(file), file); }

ArchConfig ArchConfig::from_json(const nlohmann::json& j, const std::string& file) {
  ArchConfig a;
  JsonReader r(j, file);
  a.name = r.string("name", std::nullopt);
  a.description = r.string("description", "");
  a.clock_ghz = r.number("clock_ghz", 1.0, 0.01, 10.0);
  a.fidelity = r.string("fidelity", "fast", {"fast", "cycle"});

  {
    auto m = r.object("mask_unit");
    auto& c = a.mask_unit;
    c.kind = m.string("kind", "none", {"none", "sanger_predictor", "pattern_detector", "static_pattern", "spatten_pruner"});
    if (c.kind == "sanger_predictor") {
      c.bits = read_int(m, "bits", 4, 2, 8);
      c.threshold = m.number("threshold", 2e-3, 0.0, 1.0);
      c.keep_row_max = m.boolean("keep_row_max", true);
      c.normalize_qk = m.string("normalize_qk", "inner_product", {"inner_product", "none"}) == "inner_product";
      c.quant_scope_layer = m.string("quant_scope", "layer", {"layer", "head"}) == "layer";
      auto arr = m.object("array");
      c.array_rows = read_int(arr, "rows", 64, 1, 4096);
      c.array_cols = read_int(arr, "cols", 64, 1, 4096);
      c.array_fold_drain = read_fold_drain(arr);
      arr.finish();
      c.softmax_lanes = read_int(m, "softmax_lanes", 64, 1, 4096);
      c.softmax_latency_cycles = read_int(m, "softmax_latency_cycles", 8, 0, 1000);
    } else if (c.kind == "pattern_detector") {  // DynamiQK
      read_pattern_detector(m, c, file);
    } else if (c.kind == "static_pattern") {  // DynamiQK
      read_static_pattern(m, c);
    }
    if (c.kind == "spatten_pruner") read_spatten_pruner(m, c);
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
    c.kind = p.string("kind", std::nullopt, {"score_stationary", "systolic_os", "spatten_datapath"});
    if (c.kind != "spatten_datapath") c.rows = read_int(p, "rows", 64, 1, 4096);
    if (c.kind == "spatten_datapath") {
      c.qk_multipliers = read_int(p, "qk_multipliers", 512, 1, 1 << 20);
      c.av_multipliers = read_int(p, "av_multipliers", 512, 1, 1 << 20);
      c.softmax_lanes = read_int(p, "softmax_lanes", 8, 1, 4096);
      c.msb_bits = read_int(p, "msb_bits", 8, 1, 32);
      c.requant_threshold = p.number("requant_threshold", 0.1, 0.0, 1.0);
      c.v_keep = p.number("v_keep", 1.0, 0.0, 1.0);
      c.topk_parallelism = read_int(p, "topk_parallelism", 16, 1, 4096);
      c.topk_pivot = read_topk_pivot(p);
      c.pipeline_latency_cycles = read_int(p, "pipeline_latency_cycles", 104, 0, 100000);
      c.drain_per_layer = p.string("drain", "per_layer", {"per_layer", "per_tile"}) == "per_layer";
    } else if (c.kind == "score_stationary") {
      c.pes_per_row = read_int(p, "pes_per_row", 16, 1, 4096);
      c.clear_cycles = read_int(p, "clear_cycles", 1, 0, 1000);
      c.switch_cycles = read_int(p, "switch_cycles", 1, 0, 1000);
      c.exp_latency_cycles = read_int(p, "exp_latency_cycles", 2, 0, 1000);
      // At least the array's operand register and the PE result register:
      // below 2 the formula would undercount every sweep (docs/fidelity.md).
      c.io_latency_cycles = read_int(p, "io_latency_cycles", 2, 0, 1000);
      if (c.io_latency_cycles < 2)
        p.fail("io_latency_cycles", "must be at least 2 (the PE array's operand register and result register take a "
                                    "cycle each; got " + std::to_string(c.io_latency_cycles) + ")");
      c.divide_latency_cycles = read_int(p, "divide_latency_cycles", 20, 0, 1000);
      c.sweep_sync = p.string("sweep_sync", "wavefront", {"wavefront", "barrier"}) == "barrier" ? SweepSync::barrier
                                                                                              : SweepSync::wavefront;
      const bool predictor = a.mask_unit.kind == "sanger_predictor";
      c.row_max = p.string("row_max", predictor ? "predictor" : "pass", {"predictor", "pass"}) == "predictor"
                      ? RowMaxSource::predictor
                      : RowMaxSource::pass;
      if (c.row_max == RowMaxSource::predictor && !predictor)
        p.fail("row_max", "\"predictor\" needs mask_unit.kind \"sanger_predictor\" (its low-bit scores give the "
                          "maximum); expected \"pass\"");
    } else {
      c.cols = read_int(p, "cols", 64, 1, 4096);
      c.fold_drain = read_fold_drain(p);
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
    a.tiling.fill_array = t.boolean("fill_array", true);
    t.finish();
  }
  a.tech = r.string("tech", a.tech);
  if (a.tech.empty()) r.fail("tech", "expected the path of a technology table (configs/tech/*.json)");
  a.tech_table = TechTable::load(resolve_tech(r, a.tech, file));
  r.finish();

  // Cross-field rules.
  if (a.pe_array.kind == "score_stationary" && a.encoder.kind != "pack_split")
    throw InputError(file, "encoder.kind", "the score_stationary array needs the pack_split encoder");
  if (a.fidelity == "cycle" && a.pe_array.kind == "spatten_datapath")
    throw InputError(file, "fidelity", "no cycle-accurate model of the spatten_datapath (expected \"fast\")");
  if (a.pe_array.kind == "spatten_datapath" && a.encoder.kind != "none")
    throw InputError(file, "encoder.kind", "the spatten_datapath takes no encoder (expected \"none\")");
  if (a.pe_array.kind == "spatten_datapath" && a.pe_array.msb_bits > a.pe_array.number_format.width)
    throw InputError(file, "pe_array.msb_bits", "exceeds the number format's width (" +
                                                    std::to_string(a.pe_array.number_format.width) + ")");
  if (a.pe_array.kind == "systolic_os" && a.encoder.kind != "none")
    throw InputError(file, "encoder.kind", "the systolic_os array takes no encoder (expected \"none\")");
  if (a.encoder.kind == "pack_split" && a.pe_array.pes_per_row > a.encoder.segment_width)
    throw InputError(file, "pe_array.pes_per_row", "must not exceed encoder.segment_width (" +
                                                       std::to_string(a.encoder.segment_width) + ")");
  return a;
}

int ArchConfig::query_tile_rows(int seq_len, int head_dim) const {
  const int64_t row_bytes = static_cast<int64_t>(head_dim) * pe_array.number_format.bytes();
  const int64_t q_slot = static_cast<int64_t>(memory.q_kib) * 1024 / (memory.double_buffer ? 2 : 1);
  int64_t rows = tiling.query_rows;
  if (tiling.fill_array && pe_array.kind == "systolic_os")
    rows = (rows + pe_array.rows - 1) / pe_array.rows * pe_array.rows;
  return static_cast<int>(std::min<int64_t>({rows, seq_len, q_slot / row_bytes}));
}

void apply_arch_override(nlohmann::json& arch, const std::string& path, const nlohmann::json& value,
                         const std::string& file) {
  std::string pointer;
  for (size_t a = 0; a <= path.size();) {
    const size_t b = std::min(path.find('.', a), path.size());
    if (b == a) throw InputError(file, path, "bad parameter path (expected names joined by dots, e.g. pe_array.rows)");
    pointer += "/" + path.substr(a, b - a);
    a = b + 1;
  }
  try {
    arch[nlohmann::json::json_pointer(pointer)] = value;
  } catch (const nlohmann::json::exception&) {
    throw InputError(file, path, "not a parameter: a part of the path is not a JSON object");
  }
}

void apply_arch_override(nlohmann::json& arch, const std::string& assignment, const std::string& file) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(file, "--set " + assignment, "expected PATH=VALUE, e.g. pe_array.rows=32");
  const std::string text = assignment.substr(eq + 1);
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error&) {
    value = text;
  }
  apply_arch_override(arch, assignment.substr(0, eq), value, file);
}

nlohmann::json ArchConfig::to_json() const {
  nlohmann::json j;
  j["name"] = name;
  if (!description.empty()) j["description"] = description;
  j["clock_ghz"] = clock_ghz;
  j["fidelity"] = fidelity;
  auto& m = j["mask_unit"];
  m["kind"] = mask_unit.kind;
  if (mask_unit.kind == "spatten_pruner") {
    m["token_keep"] = keep_schedule_json(mask_unit.token_keep);
    m["head_keep"] = keep_schedule_json(mask_unit.head_keep);
    m["topk_parallelism"] = mask_unit.topk_parallelism;
    m["topk_pivot"] = topk_pivot_name(mask_unit.topk_pivot);
  }
  if (mask_unit.kind == "sanger_predictor") {
    m["bits"] = mask_unit.bits;
    m["threshold"] = mask_unit.threshold;
    m["keep_row_max"] = mask_unit.keep_row_max;
    m["normalize_qk"] = mask_unit.normalize_qk ? "inner_product" : "none";
    m["quant_scope"] = mask_unit.quant_scope_layer ? "layer" : "head";
    m["array"] = {{"rows", mask_unit.array_rows},
                  {"cols", mask_unit.array_cols},
                  {"fold_drain", fold_drain_name(mask_unit.array_fold_drain)}};
    m["softmax_lanes"] = mask_unit.softmax_lanes;
    m["softmax_latency_cycles"] = mask_unit.softmax_latency_cycles;
  } else if (mask_unit.kind == "pattern_detector") {  // DynamiQK
    const auto& d = mask_unit.detector;
    m["candidates"] = d.candidates;
    m["budget"] = d.budget;
    m["budget_slack"] = d.budget_slack;
    m["min_mass"] = d.min_mass;
    m["select_delta"] = d.select_delta;
    m["boundary_delta"] = d.boundary_delta;
    m["skip_mass"] = d.skip_mass;
    m["vertical_share"] = d.vertical_share;
    m["granularity"] = d.block_granular ? "block" : "exact";
    m["a_shape_granularity"] = d.a_shape_block_granular ? "block" : "exact";
    m["block_sparse_diagonal"] = d.block_sparse_force_diagonal ? "forced" : "scored";
    m["block_size"] = d.block;
    m["last_q"] = d.last_q;
    m["eval_groups"] = d.eval_groups;
    m["init_columns"] = d.init_columns;
    m["local_diagonals"] = d.local_diagonals;
    m["min_vertical"] = d.min_vertical;
    m["min_slash"] = d.min_slash;
    m["n_init"] = d.n_init;
    m["n_last"] = d.n_last;
    m["block_topk"] = d.block_topk;
    m["report_indices"] = d.report_indices;
    // File name only: reports must not depend on where the checkout lives.
    if (!mask_unit.pattern_file.empty())
      m["pattern_file"] = std::filesystem::path(mask_unit.pattern_file).filename().string();
    m["array"] = {{"rows", mask_unit.array_rows},
                  {"cols", mask_unit.array_cols},
                  {"fold_drain", fold_drain_name(mask_unit.array_fold_drain)}};
    m["softmax_lanes"] = mask_unit.softmax_lanes;
    m["softmax_latency_cycles"] = mask_unit.softmax_latency_cycles;
    m["topk_parallelism"] = mask_unit.topk_parallelism;
    m["index_lanes"] = mask_unit.index_lanes;
    m["emit_lanes"] = mask_unit.emit_lanes;
  } else if (mask_unit.kind == "static_pattern") {  // DynamiQK
    const auto& sp = mask_unit.static_pattern;
    m["pattern"] = sp.pattern;
    m["block_size"] = sp.block;
    m["local_blocks"] = sp.local_blocks;
    m["vert_stride"] = sp.vert_stride;
    m["head_sliding_offset"] = sp.head_sliding_offset;
    m["homo_head"] = sp.homo_head;
    m["n_init"] = sp.n_init;
    m["n_local"] = sp.n_local;
    m["n_last"] = sp.n_last;
    m["granularity"] = sp.block_granular ? "block" : "exact";
    m["default_rule"] = sp.default_rule;
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : sp.modality_rules) rules.push_back({{"q", r.q}, {"k", r.k}, {"rule", r.rule}});
    m["modality_rules"] = rules;
    m["emit_lanes"] = mask_unit.emit_lanes;
  }
  auto& e = j["encoder"];
  e["kind"] = encoder.kind;
  if (encoder.kind == "pack_split") {
    e["segment_width"] = encoder.segment_width;
    e["segments_per_cycle"] = encoder.segments_per_cycle;
  }
  auto& p = j["pe_array"];
  p["kind"] = pe_array.kind;
  if (pe_array.kind != "spatten_datapath") p["rows"] = pe_array.rows;
  if (pe_array.kind == "spatten_datapath") {
    p["qk_multipliers"] = pe_array.qk_multipliers;
    p["av_multipliers"] = pe_array.av_multipliers;
    p["softmax_lanes"] = pe_array.softmax_lanes;
    p["msb_bits"] = pe_array.msb_bits;
    p["requant_threshold"] = pe_array.requant_threshold;
    p["v_keep"] = pe_array.v_keep;
    p["topk_parallelism"] = pe_array.topk_parallelism;
    p["topk_pivot"] = topk_pivot_name(pe_array.topk_pivot);
    p["pipeline_latency_cycles"] = pe_array.pipeline_latency_cycles;
    p["drain"] = pe_array.drain_per_layer ? "per_layer" : "per_tile";
  } else if (pe_array.kind == "score_stationary") {
    p["pes_per_row"] = pe_array.pes_per_row;
    p["clear_cycles"] = pe_array.clear_cycles;
    p["switch_cycles"] = pe_array.switch_cycles;
    p["exp_latency_cycles"] = pe_array.exp_latency_cycles;
    p["io_latency_cycles"] = pe_array.io_latency_cycles;
    p["sweep_sync"] = sweep_sync_name(pe_array.sweep_sync);
    p["row_max"] = pe_array.row_max == RowMaxSource::predictor ? "predictor" : "pass";
  } else if (pe_array.kind == "systolic_os") {
    p["cols"] = pe_array.cols;
    p["fold_drain"] = fold_drain_name(pe_array.fold_drain);
    p["softmax_lanes"] = pe_array.softmax_lanes;
    p["softmax_latency_cycles"] = pe_array.softmax_latency_cycles;
  }
  if (pe_array.kind != "spatten_datapath") p["divide_latency_cycles"] = pe_array.divide_latency_cycles;
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
  j["tiling"] = {{"query_rows", tiling.query_rows}, {"fill_array", tiling.fill_array}};
  j["tech"] = tech;
  return j;
}

}  // namespace attnsim
