// The DynamiQK block's registry entries (docs/dynamiqk.md): the online
// pattern detector and the static pattern unit.
#include "dynamiqk/dynamiqk_units.h"

#include <algorithm>
#include <filesystem>

#include "config/arch_config.h"
#include "dynamiqk/dynamiqk_config.h"
#include "dynamiqk/pattern_detector_unit.h"
#include "dynamiqk/static_pattern_unit.h"
#include "energy/energy_model.h"
#include "systolic/systolic_units.h"
#include "util/error.h"
#include "util/json_reader.h"
#include "workload/multimodal.h"

namespace attnsim {

namespace {

// Per-head choices of a pattern file: a report ("layers"[l]["heads"]) or
// {"heads": [{"layer": l, "head": h, "pattern": ..., sizes...}]}.
std::map<std::pair<int, int>, nlohmann::json> load_pattern_file(const std::string& file) {
  const nlohmann::json j = JsonReader::load_file(file);
  static const std::vector<std::string> kinds{"dense",        "a_shape",        "tri_shape",  "grid",
                                              "block_sparse", "vertical_slash", "q_boundary", "2d_boundary"};
  std::map<std::pair<int, int>, nlohmann::json> out;
  auto add = [&](int layer, const nlohmann::json& h, const std::string& where) {
    if (!h.is_object() || !h.contains("head") || !h["head"].is_number_integer())
      throw InputError(file, where, "expected an object with an integer \"head\"");
    if (!h.contains("pattern") || !h["pattern"].is_string() ||
        std::find(kinds.begin(), kinds.end(), h["pattern"].get<std::string>()) == kinds.end())
      throw InputError(file, where + ".pattern",
                       "expected one of dense, a_shape, tri_shape, grid, block_sparse, vertical_slash, "
                       "q_boundary, 2d_boundary");
    if (h.contains("by_modality"))
      for (const auto& [m, sub] : h["by_modality"].items())
        if (!sub.is_object() || !sub.contains("pattern") || !sub["pattern"].is_string() ||
            std::find(kinds.begin(), kinds.begin() + 6, sub["pattern"].get<std::string>()) == kinds.begin() + 6)
          throw InputError(file, where + ".by_modality." + m + ".pattern", "expected a single-modality pattern");
    out[{layer, h["head"].get<int>()}] = h;
  };
  if (j.contains("layers") && j["layers"].is_array()) {  // a report
    for (size_t l = 0; l < j["layers"].size(); ++l) {
      const auto& L = j["layers"][l];
      if (!L.contains("heads")) continue;
      for (size_t i = 0; i < L["heads"].size(); ++i)
        add(static_cast<int>(l), L["heads"][i], "layers[" + std::to_string(l) + "].heads[" + std::to_string(i) + "]");
    }
  } else if (j.contains("heads") && j["heads"].is_array()) {
    for (size_t i = 0; i < j["heads"].size(); ++i) {
      const auto& h = j["heads"][i];
      if (!h.is_object() || !h.contains("layer") || !h["layer"].is_number_integer())
        throw InputError(file, "heads[" + std::to_string(i) + "]", "expected an integer \"layer\"");
      add(h["layer"].get<int>(), h, "heads[" + std::to_string(i) + "]");
    }
  } else {
    throw InputError(file, "", "expected a report (\"layers\") or {\"heads\": [...]}");
  }
  return out;
}

// Own model: the detector estimates with 16-bit operands (as its SRAM traffic assumes).
constexpr int kDetectorBits = 16;

const ParamTable<DetectorParams>& detector_table() {
  static const auto t = [] {
    using D = DetectorParams;
    ParamTable<D> t;
    t.custom({"candidates", "list of a_shape tri_shape grid block_sparse vertical_slash", "", "", "",
              "patterns the detector compares on each head"},
             [](JsonReader& m, D& d) {
               if (!m.has("candidates")) return;
               const auto& a = m.raw("candidates");
               static const std::vector<std::string> known{"a_shape", "tri_shape", "grid", "block_sparse",
                                                           "vertical_slash"};
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
             },
             [](const D& d, nlohmann::json& j) { j["candidates"] = d.candidates; })
        .number("budget", &D::budget, 1e-4, 1.0, "", "share of the causal entries a candidate is sized to keep")
        .number("budget_slack", &D::budget_slack, 0.0, 10.0, "", "share a sized candidate may exceed the budget by")
        .number("min_mass", &D::min_mass, 0.0, 1.0, "", "a head whose best candidate keeps less mass stays dense")
        .number("select_delta", &D::select_delta, 0.0, 1.0, "", "MMInference's minimal_delta between candidates")
        .number("boundary_delta", &D::boundary_delta, 0.0, 1.0, "",
                "extra mass a Q-boundary pattern needs over one shared pattern")
        .number("skip_mass", &D::skip_mass, 0.0, 1.0, "", "modality regions below this share of attention are skipped")
        .number("vertical_share", &D::vertical_share, 0.0, 1.0, "", "share of a vertical-slash budget spent on verticals")
        .choice("granularity", &D::block_granular, {{"block", true}, {"exact", false}},
                "vertical-slash layout: MInference's blocks or exact entries")
        .choice("a_shape_granularity", &D::a_shape_block_granular, {{"exact", false}, {"block", true}},
                "A-shape layout: exact entries or blocks")
        .choice("block_sparse_diagonal", &D::block_sparse_force_diagonal, {{"scored", false}, {"forced", true}},
                "block-sparse: the diagonal key block scored like the others or always kept")
        .integer("block_size", &D::block, 1, 4096, "tokens", "row/key block of layouts and block-sparse pooling")
        .integer("last_q", &D::last_q, 1, 1 << 20, "rows", "estimation rows (MInference: 64)")
        .integer("eval_groups", &D::eval_groups, 1, 64, "", "row groups the candidates are compared on")
        .integer("init_columns", &D::init_columns, 0, 1 << 20, "keys", "first columns always vertical (MInference: 30)")
        .integer("local_diagonals", &D::local_diagonals, 1, 1 << 20, "diagonals",
                 "last diagonals always slash (MInference: 100)")
        .integer("min_vertical", &D::min_vertical, 1, 1 << 20, "keys", "fewest verticals (MInference: 30)")
        .integer("min_slash", &D::min_slash, 1, 1 << 20, "diagonals", "fewest slashes (MInference: 50)")
        .integer("n_init", &D::n_init, 0, 1 << 20, "keys", "A-shape / Tri-shape / Grid initial (sink) keys")
        .integer("n_last", &D::n_last, 1, 1 << 20, "rows", "Tri-shape dense last rows")
        .integer("block_topk", &D::block_topk, 0, 1 << 20, "blocks", "block-sparse key blocks per row block (0: from the budget)")
        .boolean("report_indices", &D::report_indices, "the report's per-head facts carry the full index lists");
    return t;
  }();
  return t;
}

const ParamTable<StaticPatternParams>& static_pattern_table() {
  static const auto t = [] {
    using S = StaticPatternParams;
    static const std::vector<std::string> rules{"causal", "same_segment", "none"};
    ParamTable<S> t;
    t.custom({"pattern", "one of local_stride a_shape tri_shape modality", "", "", "", "the rule (required)"},
             [](JsonReader& m, S& s) {
               s.pattern = m.string("pattern", std::nullopt, {"local_stride", "a_shape", "tri_shape", "modality"});
             },
             [](const S& s, nlohmann::json& j) { j["pattern"] = s.pattern; })
        .integer("block_size", &S::block, 1, 4096, "tokens", "block of local_stride and block layouts")
        .integer("local_blocks", &S::local_blocks, 1, 1 << 20, "blocks", "local_stride: local window (Phi-3-small: 16)")
        .integer("vert_stride", &S::vert_stride, 1, 1 << 20, "blocks", "local_stride: vertical stride (Phi-3-small: 8)")
        .integer("head_sliding_offset", &S::head_sliding_offset, 0, 1 << 20, "blocks", "local_stride: per-head shift offset")
        .boolean("homo_head", &S::homo_head, "local_stride: every head the same layout")
        .integer("n_init", &S::n_init, 0, 1 << 20, "keys", "A-shape / Tri-shape initial (sink) keys")
        .integer("n_local", &S::n_local, 1, 1 << 20, "keys", "A-shape / Tri-shape local window")
        .integer("n_last", &S::n_last, 1, 1 << 20, "rows", "Tri-shape dense last rows")
        .choice("granularity", &S::block_granular, {{"block", true}, {"exact", false}},
                "A-shape / Tri-shape: block layout or exact entries")
        .custom({"default_rule", "one of causal same_segment none", "", "", "", "modality: rule of unlisted pairs"},
                [](JsonReader& m, S& s) { s.default_rule = m.string("default_rule", s.default_rule, rules); },
                [](const S& s, nlohmann::json& j) { j["default_rule"] = s.default_rule; })
        .custom({"modality_rules", "list of {q, k, rule}", "", "", "", "modality: rule per (query, key) modality pair"},
                [](JsonReader& m, S& s) {
                  s.modality_rules.clear();
                  if (!m.has("modality_rules")) return;
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
                },
                [](const S& s, nlohmann::json& j) {
                  nlohmann::json rs = nlohmann::json::array();
                  for (const auto& r : s.modality_rules) rs.push_back({{"q", r.q}, {"k", r.k}, {"rule", r.rule}});
                  j["modality_rules"] = rs;
                });
    return t;
  }();
  return t;
}

}  // namespace

const UnitDescriptor& pattern_detector_unit() {
  static const UnitDescriptor d = [] {
    using C = PatternDetectorConfig;
    ParamTable<C> t;
    t.inline_struct(&C::detector, detector_table())
        .custom({"pattern_file", "path", "\"\"", "", "", "per-head choices instead of detection (a report, or {\"heads\": [...]})"},
                [](JsonReader& m, C& c) {
                  const std::string pf = m.string("pattern_file", "");
                  if (pf.empty()) return;
                  const std::filesystem::path p = pf, base = std::filesystem::path(m.file()).parent_path();
                  c.pattern_file = (p.is_absolute() || base.empty() ? p : base / p).lexically_normal().string();
                  if (!std::filesystem::exists(c.pattern_file))
                    m.fail("pattern_file", "file '" + c.pattern_file + "' does not exist");
                  c.fixed_heads = load_pattern_file(c.pattern_file);
                },
                // File name only: reports must not depend on where the checkout lives.
                [](const C& c, nlohmann::json& j) {
                  if (!c.pattern_file.empty()) j["pattern_file"] = std::filesystem::path(c.pattern_file).filename().string();
                })
        .object("array", &C::array, estimation_array_table())
        .integer("softmax_lanes", &C::softmax_lanes, 1, 4096, "per cycle", "estimation softmax: probabilities per cycle")
        .integer("softmax_latency_cycles", &C::softmax_latency_cycles, 0, 1000, "cycles", "its pipeline latency")
        .integer("topk_parallelism", &C::topk_parallelism, 1, 4096, "comparators", "the top-k engine's comparators")
        .integer("index_lanes", &C::index_lanes, 1, 4096, "per cycle", "indices merged per cycle while building a layout")
        .integer("emit_lanes", &C::emit_lanes, 1, 1 << 16, "per cycle", "mask entries written per cycle per tile")
        .rule([](JsonReader& m, const C& c) {
          if (c.detector.min_vertical < c.detector.init_columns)
            m.fail("min_vertical", "must be at least init_columns (" + std::to_string(c.detector.init_columns) +
                                       "): the forced first columns are part of the top-v");
        });
    UnitDescriptor u;
    u.slot = Slot::mask_unit;
    u.name = "pattern_detector";
    u.summary = "DynamiQK's online detector: estimates each head's sparse pattern on its first tile, masks every tile";
    u.caps.gpu_algorithm = "pattern_detector";
    u.caps.dumps_head_plans = true;
    u.caps.structured_masks = true;
    describe_params(u, t);
    u.input_files = [](const ArchConfig& a) {
      const std::string& f = a.mask_unit.get<C>().pattern_file;
      return f.empty() ? std::vector<std::string>{} : std::vector<std::string>{f};
    };
    u.make_module = [](sc_core::sc_module_name name, const UnitBuild& b) -> std::unique_ptr<UnitModule> {
      return std::make_unique<PatternDetectorUnit>(name, b.arch.mask_unit.get<C>(), b.workload, b.arch.clock_ghz);
    };
    u.mac_arith = [](const ArchConfig&) {
      const Arith m = Arith::integer(kDetectorBits);
      return std::optional<MacArith>(MacArith{m, mac_accumulator(m)});
    };
    u.priced_counters = {"softmax_elements", "add_ops", "compare_ops", "index_ops"};
    // Estimation array, softmax lanes, column/diagonal sum adders (two per
    // lane), the top-k engine, and the index-merging and mask-emitting lanes.
    u.area_um2 = [](const ArchConfig& a, const TechTable& t) {
      const auto& c = a.mask_unit.get<C>();
      const OperatorArea o = operator_area(a);
      return static_cast<double>(c.array.rows) * c.array.cols * OperatorArea::mac(t, Arith::integer(kDetectorBits)) +
             c.softmax_lanes * (o.softmax_lane + 2 * o.comparator) + c.topk_parallelism * o.comparator +
             (c.index_lanes + c.emit_lanes) * o.index_adder;
    };
    u.dump_params = [](const ArchConfig& a, const WorkloadSpec& w, nlohmann::json& p) {
      nlohmann::json m = a.to_json()["mask_unit"];
      m["array"].erase("fold_drain");  // timing only
      // gpu_ref's default (older dumps): written only when it differs.
      if (m.value("block_sparse_diagonal", "") == "forced") m.erase("block_sparse_diagonal");
      p["mask_unit"] = m;
      p["model_layers"] = w.layers;
      p["segments"] = workload_segments(w)->to_json();
    };
    return u;
  }();
  return d;
}

const UnitDescriptor& static_pattern_unit() {
  static const UnitDescriptor d = [] {
    using C = StaticPatternConfig;
    ParamTable<C> t;
    t.inline_struct(&C::pattern, static_pattern_table())
        .integer("emit_lanes", &C::emit_lanes, 1, 1 << 16, "per cycle", "mask entries written per cycle per tile");
    UnitDescriptor u;
    u.slot = Slot::mask_unit;
    u.name = "static_pattern";
    u.summary = "a fixed sparse pattern (Phi-3-small local-stride, A-shape, Tri-shape, modality rules), no estimation";
    u.caps.gpu_algorithm = "static_pattern";
    u.caps.structured_masks = true;
    describe_params(u, t);
    u.make_module = [](sc_core::sc_module_name name, const UnitBuild& b) -> std::unique_ptr<UnitModule> {
      return std::make_unique<StaticPatternUnit>(name, b.arch.mask_unit.get<C>(), b.workload, b.arch.clock_ghz);
    };
    u.priced_counters = {"index_ops"};
    u.area_um2 = [](const ArchConfig& a, const TechTable&) {
      return a.mask_unit.get<C>().emit_lanes * operator_area(a).index_adder;
    };
    return u;
  }();
  return d;
}

}  // namespace attnsim
