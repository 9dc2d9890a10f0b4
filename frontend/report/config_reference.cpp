#include "report/config_reference.h"

#include <sstream>

#include "config/arch_config.h"

namespace attnsim {

namespace {

void table(std::ostringstream& out, const std::string& prefix, const std::vector<ParamDoc>& rows) {
  out << "| key | default | range | unit | meaning |\n|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    std::string meaning = r.doc;
    if (r.type.rfind("one of", 0) == 0 || r.type.rfind("list", 0) == 0 || r.type.find(' ') != std::string::npos)
      meaning += " (" + r.type + ")";
    out << "| `" << prefix << r.name << "` | " << (r.default_value.empty() ? "required" : "`" + r.default_value + "`")
        << " | " << r.range << " | " << r.unit << " | " << meaning << " |\n";
  }
  out << "\n";
}

const char* slot_title(Slot s) {
  return s == Slot::mask_unit ? "Mask units" : s == Slot::encoder ? "Encoders" : "PE arrays";
}

}  // namespace

std::string config_reference_markdown() {
  std::ostringstream out;
  out << "# Arch configuration reference (`configs/arch/*.json`)\n\n"
         "Generated from the parameter tables (models/config/arch_config.cpp and each unit's\n"
         "`models/<block>/<block>_units.cpp`); tests/unit/test_config_reference.cpp keeps it current\n"
         "(`ATTNSIM_UPDATE_DOCS=1 build/tests/unit_tests --gtest_filter=ConfigReference.*` rewrites it).\n\n"
         "Every key has a default and a range; an unknown key, a value out of range or of the wrong\n"
         "type is a one-line error naming the file and the JSON path (exit code 2). `attnsim run\n"
         "--set PATH=VALUE` and sweep axes set any key, checked by the same tables.\n\n"
         "## The arch\n\n";
  std::vector<ParamDoc> top = arch_docs();
  for (auto& r : top)
    if (r.name == "name") r.default_value.clear();  // required
    else if (r.name == "description") r.default_value = "\"\"";  // written only when set
  table(out, "", top);
  for (Slot slot : {Slot::mask_unit, Slot::encoder, Slot::pe_array}) {
    out << "## " << slot_title(slot) << " (`" << slot_name(slot) << ".kind`)\n\n";
    if (slot == Slot::pe_array) {
      out << "Every PE array also takes the number formats:\n\n";
      table(out, "pe_array.", pe_numbers_table().docs(PeArrayChoice{}));
    }
    for (const UnitDescriptor* u : units_of(slot)) {
      out << "### `" << u->name << "`\n\n" << u->summary << ".\n\n";
      const std::vector<ParamDoc> rows = u->docs();
      if (rows.empty()) {
        out << "No parameters.\n\n";
        continue;
      }
      table(out, std::string(slot_name(slot)) + ".", rows);
    }
  }
  out << "## Technology tables\n\n" << R"(Technology tables (`configs/tech/*.json`, read by `models/energy/tech_table.cpp`):
`name`; `sources` (citations by key); `energy_pj` with `int_add`, `int_mult`
(`{"by_bits": {"8": …, "32": …}, "source"}`, interpolated as power laws),
`fp16_add`, `fp16_mult`, `fp32_add`, `fp32_mult` (`{"value", "source"}`),
`sram_access_64bit` (`{"by_kib": {…}, "source"}`), `dram_access_64bit`;
`area_um2` with the same operators and `sram_per_kib`; `composite` with
`exp_pwl`, `exp_exact`, `reciprocal`, `softmax_element` as `{"adds", "mults",
"iterations" (default 1), "source"}`. Every number needs a non-empty
`source`. The shipped `45nm.json` cites Horowitz (ISSCC 2014) for operator
energies and areas and SRAM/DRAM access energies, and Intel's 45 nm SRAM test
chip for SRAM density.

Presets: `sanger.json` (the paper's design point as the public repo's cost
model: 64×16 array, 64-wide tiles, 16-bit, 1 GHz, 128 GB/s), `sanger_fp32.json`
(fp32 datapath, validated against the GPU), `dense_systolic.json` (32×32
output-stationary array: the same 1024 multipliers), `dense_fp32.json`.

Further units, each documented where it is modelled: `mask_unit.kind =
"spatten_pruner"` and `pe_array.kind = "spatten_datapath"` (docs/spatten.md),
`mask_unit.kind = "pattern_detector" | "static_pattern"` (docs/dynamiqk.md),
`"fidelity": "cycle"` (docs/fidelity.md).)" << "\n";
  std::string s = out.str();
  while (s.size() > 1 && s[s.size() - 1] == '\n' && s[s.size() - 2] == '\n') s.pop_back();
  return s;
}

}  // namespace attnsim
