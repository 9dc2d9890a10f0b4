// The functional cache's key covers what decides the values: a pattern
// file's contents, not only its name.
#include <gtest/gtest.h>

#include "dynamiqk/dynamiqk_config.h"

#include <filesystem>

#include <fstream>

#include "scratch_dir.h"
#include "dse/functional_cache.h"

using namespace attnsim;

namespace {
const std::string kSrc = ATTNSIM_SOURCE_DIR;

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}
}  // namespace

TEST(FunctionalCacheKey, PatternFileContentsChangeTheKey) {
  const auto dir = std::filesystem::path(attnsim_test::scratch_dir()) / "key";
  std::filesystem::create_directories(dir / "a");
  std::filesystem::create_directories(dir / "b");
  const std::string file_a = (dir / "a" / "patterns.json").string(), file_b = (dir / "b" / "patterns.json").string();
  const std::string dense = R"({"heads": [{"layer": 0, "head": 0, "pattern": "dense"}]})";
  write(file_a, dense);
  write(file_b, dense);
  ArchConfig arch = ArchConfig::load(kSrc + "/configs/arch/dynamiqk_sanger.json");
  const WorkloadSpec w = WorkloadSpec::load(kSrc + "/workloads/longctx_s4k.json");
  arch.mask_unit.get<PatternDetectorConfig>().pattern_file = file_a;
  const std::string key_a = FunctionalCache::functional_key(arch, w, 64, 0);
  arch.mask_unit.get<PatternDetectorConfig>().pattern_file = file_b;  // same name, same contents
  EXPECT_EQ(FunctionalCache::functional_key(arch, w, 64, 0), key_a);
  write(file_b, R"({"heads": [{"layer": 0, "head": 0, "pattern": "a_shape"}]})");  // same name, other contents
  EXPECT_NE(FunctionalCache::functional_key(arch, w, 64, 0), key_a);
  arch.mask_unit.get<PatternDetectorConfig>().pattern_file = "";
  EXPECT_NE(FunctionalCache::functional_key(arch, w, 64, 0), key_a);
  std::filesystem::remove_all(dir);
}
