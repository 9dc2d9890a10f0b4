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


ArchConfig ArchConfig::load(const std::string& file) { return from_json(JsonReader::load_file(file), file); }

namespace {

// The slot's object: its kind (one of the registry's units of the slot) and
// that unit's parameters, read by the unit's own table; the PE array's
// object also holds the number formats every array shares.
ParamDoc slot_doc(Slot slot) {
  std::string kinds;
  for (const auto* u : units_of(slot)) kinds += (kinds.empty() ? "one of " : " ") + u->name;
  return {std::string(slot_name(slot)) + ".kind", kinds, "", "", "",
          "the unit in this slot; its parameters are listed with it below"};
}

void read_slot(JsonReader& r, Slot slot, UnitChoice& c, const ArchConfig& so_far) {
  auto o = r.object(slot_name(slot));
  std::vector<std::string> names;
  for (const auto* u : units_of(slot)) names.push_back(u->name);
  const bool optional = slot != Slot::pe_array;
  const std::string kind = o.string("kind", optional ? std::optional<std::string>("none") : std::nullopt, names);
  c.unit = find_unit(slot, kind);
  c.params = c.unit->defaults();
  c.unit->read(o, c.params, so_far);
  if (slot == Slot::pe_array) pe_numbers_table().read(o, static_cast<PeArrayChoice&>(c));
  o.finish();
}

void write_slot(const UnitChoice& c, nlohmann::json& j) {
  auto& o = j[slot_name(c.unit->slot)];
  o["kind"] = c.kind();
  c.unit->write(c.params, o);
}

template <Slot slot>
ParamTable<ArchConfig>& add_slot(ParamTable<ArchConfig>& t, UnitChoice ArchConfig::*m) {
  return t.custom(
      slot_doc(slot), [m](JsonReader& r, ArchConfig& a) { read_slot(r, slot, a.*m, a); },
      [m](const ArchConfig& a, nlohmann::json& j) { write_slot(a.*m, j); });
}

const ParamTable<ArchConfig>& arch_table() {
  static const auto t = [] {
    ParamTable<ArchConfig> t;
    t.custom({"name", "text", "", "", "", "the arch's name (required)"},
             [](JsonReader& r, ArchConfig& a) { a.name = r.string("name", std::nullopt); },
             [](const ArchConfig& a, nlohmann::json& j) { j["name"] = a.name; })
        .custom({"description", "text", "", "", "", "free text"},
                [](JsonReader& r, ArchConfig& a) { a.description = r.string("description", ""); },
                [](const ArchConfig& a, nlohmann::json& j) {
                  if (!a.description.empty()) j["description"] = a.description;
                })
        .number("clock_ghz", &ArchConfig::clock_ghz, 0.01, 10.0, "GHz", "clock of every unit")
        .choice("fidelity", &ArchConfig::fidelity, {{"fast", Fidelity::fast}, {"cycle", Fidelity::cycle}},
                "cycle: clocked register-level arrays where a unit has them (docs/fidelity.md); the same report, slower");
    add_slot<Slot::mask_unit>(t, &ArchConfig::mask_unit);
    add_slot<Slot::encoder>(t, &ArchConfig::encoder);
    t.custom(
        slot_doc(Slot::pe_array),
        [](JsonReader& r, ArchConfig& a) { read_slot(r, Slot::pe_array, a.pe_array, a); },
        [](const ArchConfig& a, nlohmann::json& j) {
          write_slot(a.pe_array, j);
          pe_numbers_table().write(a.pe_array, j["pe_array"]);
        });
    t.object("memory", &ArchConfig::memory, memory_table())
        .object("tiling", &ArchConfig::tiling, tiling_table())
        .custom({"tech", "path", "", "", "",
                 "technology table pricing energy and area (relative: next to the arch file, else in the repository)"},
                [](JsonReader& r, ArchConfig& a) {
                  a.tech = r.string("tech", a.tech);
                  if (a.tech.empty()) r.fail("tech", "expected the path of a technology table (configs/tech/*.json)");
                  a.tech_table = TechTable::load(resolve_tech(r, a.tech, r.file()));
                },
                [](const ArchConfig& a, nlohmann::json& j) { j["tech"] = a.tech; });
    return t;
  }();
  return t;
}

}  // namespace

ArchConfig ArchConfig::from_json(const nlohmann::json& j, const std::string& file) {
  ArchConfig a;
  JsonReader r(j, file);
  arch_table().read(r, a);
  r.finish();

  // Rules across slots.
  const UnitCaps& pe = a.pe_array.unit->caps;
  if (pe.needs_encoder && !a.encoder.is(pe.needs_encoder()))
    throw InputError(file, "encoder.kind", "the " + a.pe_array.kind() + " array needs the " + pe.needs_encoder().name +
                                               " encoder");
  if (a.fidelity == Fidelity::cycle && !pe.cycle_model)
    throw InputError(file, "fidelity", "no cycle-accurate model of the " + a.pe_array.kind() + " (expected \"fast\")");
  if (!pe.needs_encoder && !a.encoder.none())
    throw InputError(file, "encoder.kind", "the " + a.pe_array.kind() + " array takes no encoder (expected \"none\")");
  for (const UnitChoice* u : a.units())
    if (u->unit->check) u->unit->check(a, file);
  return a;
}

std::vector<ParamDoc> arch_docs() {
  ArchConfig defaults;  // empty slots, and the first PE array for its kind's row
  defaults.mask_unit = {&no_unit(Slot::mask_unit), no_unit(Slot::mask_unit).defaults()};
  defaults.encoder = {&no_unit(Slot::encoder), no_unit(Slot::encoder).defaults()};
  const UnitDescriptor& pe = *units_of(Slot::pe_array).front();
  defaults.pe_array.unit = &pe;
  defaults.pe_array.params = pe.defaults();
  std::vector<ParamDoc> docs = arch_table().docs(defaults);
  for (auto& d : docs)
    if (d.name == "pe_array.kind") d.default_value.clear();  // required
  return docs;
}

const ParamTable<PeArrayChoice>& pe_numbers_table() {
  static const auto t = [] {
    ParamTable<PeArrayChoice> t;
    t.custom({"number_format", "fp32 or fixedW.F (2 ≤ W ≤ 32)", "", "", "", "Q, K, V, scores and outputs"},
             [](JsonReader& r, PeArrayChoice& c) { c.number_format = read_format(r, "number_format", "fp32"); },
             [](const PeArrayChoice& c, nlohmann::json& j) { j["number_format"] = c.number_format.name(); })
        .custom({"prob_format", "fp32 or fixedW.F", "", "", "",
                 "exponentials and probabilities (default: fixed16.14 with a fixed number format, else fp32)"},
                [](JsonReader& r, PeArrayChoice& c) {
                  c.prob_format = read_format(r, "prob_format", c.number_format.is_fixed() ? "fixed16.14" : "fp32");
                },
                [](const PeArrayChoice& c, nlohmann::json& j) { j["prob_format"] = c.prob_format.name(); })
        .custom({"exp", "exact or pwlN (1 ≤ N ≤ 12)", "", "", "", "the exp unit: exact, or N-segment piecewise linear"},
                [](JsonReader& r, PeArrayChoice& c) {
                  const std::string exp = r.string("exp", "exact");
                  try {
                    c.exp = ExpUnit::parse(exp);
                  } catch (const std::invalid_argument& e) {
                    r.fail("exp", "bad exp unit '" + exp + "': " + e.what());
                  }
                },
                [](const PeArrayChoice& c, nlohmann::json& j) { j["exp"] = c.exp.name(); });
    return t;
  }();
  return t;
}

const ParamTable<MemoryConfig>& memory_table() {
  static const auto t = ParamTable<MemoryConfig>()
                            .object("dram", &MemoryConfig::dram, dram_table())
                            .group("sram_kib", sram_table())
                            .boolean("double_buffer", &MemoryConfig::double_buffer,
                                     "each buffer holds two tiles: the next tile loads while one computes");
  return t;
}

const ParamTable<DramConfig>& dram_table() {
  static const auto t = ParamTable<DramConfig>()
                            .integer("channels", &DramConfig::channels, 1, 1024, "", "DRAM channels")
                            .number("bandwidth_gbps", &DramConfig::bandwidth_gbps, 0.1, 1e5, "GB/s",
                                    "aggregate bandwidth of all channels")
                            .number("latency_ns", &DramConfig::latency_ns, 0, 1e5, "ns", "latency of a burst's first byte")
                            .integer("interleave_bytes", &DramConfig::interleave_bytes, 1, 1 << 20, "bytes",
                                     "address interleaving granularity across channels");
  return t;
}

const ParamTable<MemoryConfig>& sram_table() {
  static const auto t =
      ParamTable<MemoryConfig>()
          .integer("q", &MemoryConfig::q_kib, 1, 1 << 20, "KiB", "query buffer (both slots when double-buffered)")
          .integer("k", &MemoryConfig::k_kib, 1, 1 << 20, "KiB", "key buffer; K stays on chip for a head when it fits")
          .integer("v", &MemoryConfig::v_kib, 1, 1 << 20, "KiB", "value buffer; V stays on chip for a head when it fits")
          .integer("score", &MemoryConfig::score_kib, 1, 1 << 20, "KiB", "score (or mask) buffer; excess spills to DRAM")
          .integer("output", &MemoryConfig::output_kib, 1, 1 << 20, "KiB", "output buffer; excess spills to DRAM");
  return t;
}

const ParamTable<TilingConfig>& tiling_table() {
  static const auto t =
      ParamTable<TilingConfig>()
          .integer("query_rows", &TilingConfig::query_rows, 1, 1 << 20, "rows",
                   "query rows per tile (capped by the sequence and by one Q buffer slot)")
          .boolean("fill_array", &TilingConfig::fill_array,
                   "grow the tile to the next multiple of an array's rows that asks for it (systolic_os)");
  return t;
}

std::vector<std::string> ArchConfig::input_files() const {
  std::vector<std::string> files;
  for (const UnitChoice* u : units())
    if (u->unit->input_files)
      for (const auto& f : u->unit->input_files(*this)) files.push_back(f);
  return files;
}

int ArchConfig::query_tile_rows(int seq_len, int head_dim) const {
  const int64_t row_bytes = static_cast<int64_t>(head_dim) * pe_array.number_format.bytes();
  const int64_t q_slot = static_cast<int64_t>(memory.q_kib) * 1024 / (memory.double_buffer ? 2 : 1);
  int64_t rows = tiling.query_rows;
  const int fill = pe_array.unit->fill_rows ? pe_array.unit->fill_rows(*this) : 0;
  if (tiling.fill_array && fill > 0) rows = (rows + fill - 1) / fill * fill;
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
  arch_table().write(*this, j);
  return j;
}

}  // namespace attnsim
