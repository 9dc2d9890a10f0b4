// Fuzzes the arch JSON loader: ArchConfig::load (JsonReader::load_file, then
// ArchConfig::from_json, which also loads the "tech" table it names).
// Invariant: an accepted arch survives its own to_json() unchanged, since
// sweeps and --set rebuild archs from that JSON.
#include "config/arch_config.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = fuzz::input_file("configs/fuzz_arch/arch.json", data, size);
  attnsim::ArchConfig a;
  if (!fuzz::accepts([&] { a = attnsim::ArchConfig::load(file); })) return 0;
  const nlohmann::json j = a.to_json();
  attnsim::ArchConfig b;
  FUZZ_CHECK(fuzz::accepts([&] { b = attnsim::ArchConfig::from_json(j, file); }),
             "to_json() of an accepted arch is rejected: " + j.dump());
  FUZZ_CHECK(b.to_json() == j, "to_json() does not round-trip: " + j.dump());
  return 0;
}
