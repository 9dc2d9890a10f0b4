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

// The slot's object: its kind (one of the registry's units of the slot) and
// that unit's parameters, read by the unit's own table.
JsonReader read_unit(JsonReader& r, Slot slot, UnitChoice& c, const ArchConfig& so_far) {
  auto o = r.object(slot_name(slot));
  std::vector<std::string> names;
  for (const auto* u : units_of(slot)) names.push_back(u->name);
  const bool optional = slot != Slot::pe_array;
  const std::string kind = o.string("kind", optional ? std::optional<std::string>("none") : std::nullopt, names);
  c.unit = find_unit(slot, kind);
  c.params = c.unit->defaults();
  c.unit->read(o, c.params, so_far);
  return o;
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

ArchConfig ArchConfig::from_json(const nlohmann::json& j, const std::string& file) {
  ArchConfig a;
  JsonReader r(j, file);
  a.name = r.string("name", std::nullopt);
  a.description = r.string("description", "");
  a.clock_ghz = r.number("clock_ghz", 1.0, 0.01, 10.0);
  a.fidelity = r.string("fidelity", "fast", {"fast", "cycle"}) == "cycle" ? Fidelity::cycle : Fidelity::fast;
  read_unit(r, Slot::mask_unit, a.mask_unit, a).finish();
  read_unit(r, Slot::encoder, a.encoder, a).finish();
  {
    auto p = read_unit(r, Slot::pe_array, a.pe_array, a);
    auto& c = a.pe_array;
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
    auto d = m.object("dram");
    dram_table().read(d, a.memory.dram);
    d.finish();
    auto s = m.object("sram_kib");
    sram_table().read(s, a.memory);
    s.finish();
    a.memory.double_buffer = m.boolean("double_buffer", true);
    m.finish();
  }
  {
    auto t = r.object("tiling");
    tiling_table().read(t, a.tiling);
    t.finish();
  }
  a.tech = r.string("tech", a.tech);
  if (a.tech.empty()) r.fail("tech", "expected the path of a technology table (configs/tech/*.json)");
  a.tech_table = TechTable::load(resolve_tech(r, a.tech, file));
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
  j["name"] = name;
  if (!description.empty()) j["description"] = description;
  j["clock_ghz"] = clock_ghz;
  j["fidelity"] = fidelity == Fidelity::cycle ? "cycle" : "fast";
  for (const UnitChoice* u : units()) {
    auto& o = j[slot_name(u->unit->slot)];
    o["kind"] = u->kind();
    u->unit->write(u->params, o);
  }
  auto& p = j["pe_array"];
  p["number_format"] = pe_array.number_format.name();
  p["prob_format"] = pe_array.prob_format.name();
  p["exp"] = pe_array.exp.name();
  auto& mem = j["memory"];
  dram_table().write(memory.dram, mem["dram"]);
  sram_table().write(memory, mem["sram_kib"]);
  mem["double_buffer"] = memory.double_buffer;
  tiling_table().write(tiling, j["tiling"]);
  j["tech"] = tech;
  return j;
}

}  // namespace attnsim
