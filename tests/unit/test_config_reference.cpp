// docs/config_reference.md is rendered from the parameter tables; the
// committed file must be what they render. ATTNSIM_UPDATE_DOCS=1 rewrites it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/arch_config.h"
#include "report/config_reference.h"

using namespace attnsim;

TEST(ConfigReference, TheCommittedFileIsCurrent) {
  const std::string doc = std::string(ATTNSIM_SOURCE_DIR) + "/docs/config_reference.md";
  std::ifstream in(doc);
  std::stringstream committed;
  committed << in.rdbuf();
  const std::string rendered = config_reference_markdown();
  if (std::getenv("ATTNSIM_UPDATE_DOCS") && committed.str() != rendered) {
    std::ofstream(doc) << rendered;
    return;
  }
  EXPECT_EQ(committed.str(), rendered)
      << doc << " is stale: ATTNSIM_UPDATE_DOCS=1 build/tests/unit_tests --gtest_filter=ConfigReference.*";
}

TEST(ConfigReference, EveryUnitAndEveryKeyIsListed) {
  const std::string md = config_reference_markdown();
  for (const UnitDescriptor* u : all_units()) {
    EXPECT_NE(md.find("### `" + u->name + "`"), std::string::npos) << u->name;
    for (const ParamDoc& p : u->docs())
      EXPECT_NE(md.find("`" + std::string(slot_name(u->slot)) + "." + p.name + "`"), std::string::npos) << p.name;
  }
  // The defaults are the structs' own: the detector's estimation array is 32 x 32, Sanger's 64 x 64.
  EXPECT_NE(md.find("| `mask_unit.array.rows` | `32` |"), std::string::npos);
  EXPECT_NE(md.find("| `mask_unit.array.rows` | `64` |"), std::string::npos);
}

TEST(ConfigReference, AWrittenArchReadsBackTheSame) {
  // to_json and from_json are the same tables: every preset round-trips.
  for (const char* name : {"sanger", "dense_systolic", "spatten", "dynamiqk_sanger", "dynamiqk_local_stride",
                           "spatten_pruner_systolic"}) {
    const std::string file = std::string(ATTNSIM_SOURCE_DIR) + "/configs/arch/" + name + ".json";
    const ArchConfig a = ArchConfig::load(file);
    const ArchConfig b = ArchConfig::from_json(a.to_json(), file);
    EXPECT_EQ(a.to_json(), b.to_json()) << name;
  }
}
