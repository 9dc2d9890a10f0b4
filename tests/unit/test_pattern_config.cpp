// Arch JSON of the DynamiQK mask units: defaults, round trip, and clear
// errors for bad values of the new keys.
#include <gtest/gtest.h>

#include "dynamiqk/dynamiqk_config.h"

#include <fstream>

#include "config/arch_config.h"
#include "util/error.h"

using namespace attnsim;
using nlohmann::json;

namespace {
const std::string kSrc = ATTNSIM_SOURCE_DIR;

json preset(const std::string& name) {
  std::ifstream in(kSrc + "/configs/arch/" + name);
  return json::parse(in);
}

void expect_error(const json& j, std::initializer_list<const char*> fragments) {
  try {
    ArchConfig::from_json(j, "arch.json");
    FAIL() << "accepted " << j.dump();
  } catch (const InputError& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(PatternConfig, PresetsLoadAndRoundTrip) {
  for (const char* name : {"dynamiqk_sanger.json", "dynamiqk_systolic.json", "dynamiqk_local_stride.json"}) {
    const ArchConfig a = ArchConfig::from_json(preset(name), name);
    const ArchConfig b = ArchConfig::from_json(a.to_json(), "again.json");
    EXPECT_EQ(a.to_json(), b.to_json()) << name;
  }
  const ArchConfig a = ArchConfig::from_json(preset("dynamiqk_sanger.json"), "x.json");
  EXPECT_EQ(a.mask_unit.kind(), "pattern_detector");
  EXPECT_EQ(a.mask_unit.get<PatternDetectorConfig>().detector.eval_groups, 4);
  EXPECT_EQ(a.mask_unit.get<PatternDetectorConfig>().detector.candidates.size(), 5u);
  EXPECT_EQ(a.pe_array.kind(), "score_stationary");
  const ArchConfig s = ArchConfig::from_json(preset("dynamiqk_local_stride.json"), "x.json");
  EXPECT_EQ(s.mask_unit.get<StaticPatternConfig>().pattern.pattern, "local_stride");
  EXPECT_EQ(s.mask_unit.get<StaticPatternConfig>().pattern.vert_stride, 8);
}

TEST(PatternConfig, DetectorDefaultsAreMInferences) {
  json j = preset("dynamiqk_sanger.json");
  j["mask_unit"] = {{"kind", "pattern_detector"}};
  const ArchConfig a = ArchConfig::from_json(j, "x.json");
  const auto& d = a.mask_unit.get<PatternDetectorConfig>().detector;
  EXPECT_EQ(d.last_q, 64);
  EXPECT_EQ(d.init_columns, 30);
  EXPECT_EQ(d.local_diagonals, 100);
  EXPECT_EQ(d.min_vertical, 30);
  EXPECT_EQ(d.min_slash, 50);
  EXPECT_EQ(d.block, 64);
  EXPECT_DOUBLE_EQ(d.select_delta, 0.01);
  EXPECT_EQ(d.eval_groups, 1);
  EXPECT_TRUE(d.block_granular);
  EXPECT_EQ(a.mask_unit.get<PatternDetectorConfig>().array.rows, 32);
  EXPECT_EQ(a.mask_unit.get<PatternDetectorConfig>().topk_parallelism, 16);
}

TEST(PatternConfig, BadDetectorKeysGiveClearErrors) {
  auto with = [](const char* key, json value) {
    json j = preset("dynamiqk_sanger.json");
    j["mask_unit"][key] = value;
    return j;
  };
  expect_error(with("budget", 0), {"arch.json", "mask_unit.budget", "out of range"});
  expect_error(with("budget", "a lot"), {"mask_unit.budget", "expected a number"});
  expect_error(with("candidates", json::array({"a_shape", "zigzag"})), {"mask_unit.candidates", "zigzag"});
  expect_error(with("candidates", json::array({"grid", "grid"})), {"mask_unit.candidates", "twice"});
  expect_error(with("candidates", json::array()), {"mask_unit.candidates", "non-empty"});
  expect_error(with("granularity", "tile"), {"mask_unit.granularity", "block, exact"});
  expect_error(with("last_q", 0), {"mask_unit.last_q"});
  expect_error(with("eval_groups", 100), {"mask_unit.eval_groups", "out of range"});
  expect_error(with("min_vertical", 10), {"mask_unit.min_vertical", "init_columns"});
  expect_error(with("pattern_file", "no/such/file.json"), {"mask_unit.pattern_file", "does not exist"});
  expect_error(with("threshold", 0.1), {"mask_unit.threshold", "unknown key"});
  json j = preset("dynamiqk_sanger.json");
  j["mask_unit"]["array"]["depth"] = 3;
  expect_error(j, {"mask_unit.array.depth", "unknown key"});
}

TEST(PatternConfig, BadStaticPatternKeysGiveClearErrors) {
  auto with = [](const char* key, json value) {
    json j = preset("dynamiqk_local_stride.json");
    j["mask_unit"][key] = value;
    return j;
  };
  json j = preset("dynamiqk_local_stride.json");
  j["mask_unit"].erase("pattern");
  expect_error(j, {"mask_unit.pattern", "missing"});
  expect_error(with("pattern", "diagonal"), {"mask_unit.pattern", "local_stride, a_shape, tri_shape, modality"});
  expect_error(with("vert_stride", 0), {"mask_unit.vert_stride", "out of range"});
  expect_error(with("modality_rules", json::array({{{"q", "text"}, {"k", "vision"}, {"rule", "sometimes"}}})),
               {"mask_unit.modality_rules[0].rule", "causal, same_segment, none"});
  expect_error(with("modality_rules", json::array({{{"q", "text"}, {"rule", "none"}}})),
               {"mask_unit.modality_rules[0].k", "missing"});
  expect_error(with("modality_rules", json::array({{{"q", "text"}, {"k", "text"}, {"rule", "none"}, {"x", 1}}})),
               {"mask_unit.modality_rules[0].x", "unknown key"});
  expect_error(with("modality_rules", 3), {"mask_unit.modality_rules", "expected an array"});
  // Every static parameter is read whatever the pattern (so sweeps can set them).
  const ArchConfig a = ArchConfig::from_json(with("n_local", 512), "x.json");
  EXPECT_EQ(a.mask_unit.get<StaticPatternConfig>().pattern.n_local, 512);
}
