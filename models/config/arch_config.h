#pragma once
// The accelerator description: which unit sits in each slot (mask unit,
// encoder, PE array; the registry's descriptors, common/unit.h) with its own
// parameters, the memories, the tiling and the technology table. Each config
// struct's defaults are its member initialisers; its JSON names, ranges and
// docs are its ParamTable (docs/config_reference.md is generated from them).
#include <any>
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/unit.h"
#include "energy/tech_table.h"
#include "kernels/number_format.h"
#include "kernels/softmax.h"

namespace attnsim {

struct DramConfig {
  int channels = 8;
  double bandwidth_gbps = 128;  // aggregate, GB/s
  double latency_ns = 100;
  int interleave_bytes = 64;    // address interleaving granularity across channels
};

struct MemoryConfig {
  DramConfig dram;
  int q_kib = 64, k_kib = 64, v_kib = 64, score_kib = 32, output_kib = 32;
  bool double_buffer = true;
  std::map<std::string, int> buffer_kib() const {
    return {{"q", q_kib}, {"k", k_kib}, {"v", v_kib}, {"score", score_kib}, {"output", output_kib}};
  }
};

// One slot's unit: its kind (a registry descriptor) and its parameters (the
// unit's own config struct, e.g. SystolicConfig).
struct UnitChoice {
  const UnitDescriptor* unit = nullptr;
  std::any params;
  bool is(const UnitDescriptor& d) const { return unit == &d; }
  bool none() const { return !unit->make_module; }
  const std::string& kind() const { return unit->name; }
  template <class P>
  const P& get() const { return std::any_cast<const P&>(params); }
  template <class P>
  P& get() { return std::any_cast<P&>(params); }
};

// The PE array: its unit, and the number formats every array shares.
struct PeArrayChoice : UnitChoice {
  NumberFormat number_format;
  NumberFormat prob_format;
  ExpUnit exp;
};

enum class Fidelity { fast, cycle };

struct TilingConfig {
  int query_rows = 64;
  // systolic_os: grow the query tile to the next multiple of the array's rows,
  // so an array taller than the tile is filled (own choice; false keeps
  // query_rows as given and leaves the extra rows idle).
  bool fill_array = true;
};

struct ArchConfig {
  std::string name, description;
  double clock_ghz = 1.0;
  Fidelity fidelity = Fidelity::fast;
  UnitChoice mask_unit, encoder;
  PeArrayChoice pe_array;
  MemoryConfig memory;
  TilingConfig tiling;
  // The technology table pricing energy and area: a path as written in the
  // arch JSON (relative: next to the arch file, else in the repository), and
  // the table loaded from it.
  std::string tech = "configs/tech/45nm.json";
  TechTable tech_table;

  static ArchConfig load(const std::string& file);
  static ArchConfig from_json(const nlohmann::json& j, const std::string& file);
  nlohmann::json to_json() const;  // with every default filled in
  // Query rows per tile: the configured tile, capped by the sequence and by
  // what one slot of the Q buffer holds.
  int query_tile_rows(int seq_len, int head_dim) const;
  // The three slots' units, in order: mask unit, encoder, PE array.
  std::array<const UnitChoice*, 3> units() const { return {&mask_unit, &encoder, &pe_array}; }
  // Files the units read besides the arch file (UnitDescriptor::input_files).
  std::vector<std::string> input_files() const;
};

// The tables of the structs above (the units' tables live with the units).
const ParamTable<DramConfig>& dram_table();
const ParamTable<MemoryConfig>& sram_table();    // memory.sram_kib
const ParamTable<MemoryConfig>& memory_table();  // memory
const ParamTable<TilingConfig>& tiling_table();
const ParamTable<PeArrayChoice>& pe_numbers_table();  // pe_array: the formats every array shares
// Every top-level parameter, as docs/config_reference.md lists them.
std::vector<ParamDoc> arch_docs();

// Sets the arch parameter at a dotted JSON path (pe_array.rows) in an arch
// JSON (attnsim run --set, sweep axes); ArchConfig::from_json then validates
// it. A path through a non-object is an InputError naming `file`.
void apply_arch_override(nlohmann::json& arch, const std::string& path, const nlohmann::json& value,
                         const std::string& file);
// "PATH=VALUE" with VALUE parsed as JSON, else taken as a string.
void apply_arch_override(nlohmann::json& arch, const std::string& assignment, const std::string& file);

}  // namespace attnsim
