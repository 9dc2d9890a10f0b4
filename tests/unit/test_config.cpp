#include <gtest/gtest.h>

#include "sanger/sanger_config.h"

#include <filesystem>
#include <fstream>

#include "scratch_dir.h"
#include "config/arch_config.h"
#include "util/error.h"

using namespace attnsim;
using nlohmann::json;

namespace {
const std::string kSrc = ATTNSIM_SOURCE_DIR;

json sanger() {
  std::ifstream in(kSrc + "/configs/arch/sanger.json");
  return json::parse(in);
}

// Expects an InputError whose message contains every fragment.
void expect_error(const json& j, std::initializer_list<const char*> fragments) {
  try {
    ArchConfig::from_json(j, "arch.json");
    FAIL() << "accepted " << j.dump();
  } catch (const InputError& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(ArchConfig, ShippedPresetsLoad) {
  for (const auto& entry : std::filesystem::directory_iterator(kSrc + "/configs/arch")) {
    const ArchConfig a = ArchConfig::load(entry.path().string());
    EXPECT_FALSE(a.name.empty()) << entry.path();
  }
  const ArchConfig a = ArchConfig::from_json(sanger(), "sanger.json");
  EXPECT_EQ(a.mask_unit.kind(), "sanger_predictor");
  EXPECT_EQ(a.mask_unit.get<SangerPredictorConfig>().bits, 4);
  EXPECT_DOUBLE_EQ(a.mask_unit.get<SangerPredictorConfig>().threshold, 0.002);
  EXPECT_EQ(a.pe_array.get<ScoreStationaryConfig>().pes_per_row, 16);
  EXPECT_EQ(a.pe_array.number_format.name(), "fixed16.8");
  EXPECT_EQ(a.pe_array.exp.name(), "pwl6");
}

TEST(ArchConfig, ToJsonRoundTrips) {
  const ArchConfig a = ArchConfig::from_json(sanger(), "sanger.json");
  const ArchConfig b = ArchConfig::from_json(a.to_json(), "again.json");
  EXPECT_EQ(a.to_json(), b.to_json());
}

TEST(ArchConfig, UnknownKeyNamesItsPath) {
  json j = sanger();
  j["pe_array"]["bogus"] = 1;
  expect_error(j, {"arch.json", "pe_array.bogus", "unknown key"});
  j = sanger();
  j["memory"]["dram"]["speed"] = 1;
  expect_error(j, {"memory.dram.speed"});
}

TEST(ArchConfig, IoLatencyCoversTheArrayRegisters) {
  // The operand register and the PE result register take a cycle each: a
  // smaller io_latency_cycles would undercount every sweep (docs/fidelity.md).
  for (int io : {0, 1}) {
    json j = sanger();
    j["pe_array"]["io_latency_cycles"] = io;
    expect_error(j, {"arch.json", "pe_array.io_latency_cycles", "at least 2"});
  }
  json j = sanger();
  j["pe_array"]["io_latency_cycles"] = 2;
  EXPECT_EQ(ArchConfig::from_json(j, "arch.json").pe_array.get<ScoreStationaryConfig>().io_latency_cycles, 2);
  j["pe_array"]["io_latency_cycles"] = 5;
  EXPECT_EQ(ArchConfig::from_json(j, "arch.json").pe_array.get<ScoreStationaryConfig>().io_latency_cycles, 5);
}

TEST(ArchConfig, OutOfRangeAndWrongTypes) {
  json j = sanger();
  j["clock_ghz"] = 0;
  expect_error(j, {"clock_ghz", "out of range"});
  j = sanger();
  j["pe_array"]["rows"] = -4;
  expect_error(j, {"pe_array.rows", "out of range"});
  j = sanger();
  j["pe_array"]["rows"] = 2.5;
  expect_error(j, {"pe_array.rows", "expected an integer"});
  j = sanger();
  j["mask_unit"]["threshold"] = "small";
  expect_error(j, {"mask_unit.threshold", "expected a number"});
  j = sanger();
  j["pe_array"]["number_format"] = "fixed99.1";
  expect_error(j, {"pe_array.number_format", "fixed99.1"});
  j = sanger();
  j["pe_array"]["kind"] = "tpu";
  expect_error(j, {"pe_array.kind", "expected one of"});
  j = sanger();
  j.erase("name");
  expect_error(j, {"name", "missing"});
}

TEST(ArchConfig, CrossFieldRules) {
  json j = sanger();
  j["encoder"]["kind"] = "none";
  j["encoder"].erase("segment_width");
  j["encoder"].erase("segments_per_cycle");
  expect_error(j, {"encoder.kind", "pack_split"});
  j = sanger();
  j["pe_array"]["pes_per_row"] = 128;
  expect_error(j, {"pe_array.pes_per_row", "segment_width"});
}

TEST(ArchConfig, MalformedAndMissingFiles) {
  const auto p = std::filesystem::path(attnsim_test::scratch_dir()) / "bad_arch.json";
  std::ofstream(p) << "{ \"name\": ";
  try {
    ArchConfig::load(p.string());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos);
  }
  EXPECT_THROW(ArchConfig::load("/nonexistent/arch.json"), InputError);
}

// The timing choices the designs' references differ on (docs/references.md):
// defaults from the references, the alternatives one setting away.
TEST(ArchConfig, ReferenceChoicesAndTheirDefaults) {
  const ArchConfig s = ArchConfig::from_json(sanger(), "sanger.json");
  EXPECT_EQ(s.pe_array.get<ScoreStationaryConfig>().sweep_sync, SweepSync::wavefront);
  EXPECT_EQ(s.pe_array.get<ScoreStationaryConfig>().row_max, RowMaxSource::predictor);  // behind a sanger_predictor
  EXPECT_EQ(s.mask_unit.get<SangerPredictorConfig>().array.fold_drain, FoldDrain::in_skew);
  json j = sanger();
  j["pe_array"]["sweep_sync"] = "barrier";
  j["pe_array"]["row_max"] = "pass";
  const ArchConfig b = ArchConfig::from_json(j, "arch.json");
  EXPECT_EQ(b.pe_array.get<ScoreStationaryConfig>().sweep_sync, SweepSync::barrier);
  EXPECT_EQ(b.pe_array.get<ScoreStationaryConfig>().row_max, RowMaxSource::pass);
  // The predictor's maximum needs a predictor.
  j = sanger();
  j["mask_unit"] = {{"kind", "static_pattern"}, {"pattern", "local_stride"}};
  EXPECT_EQ(ArchConfig::from_json(j, "arch.json").pe_array.get<ScoreStationaryConfig>().row_max, RowMaxSource::pass);
  j["pe_array"]["row_max"] = "predictor";
  expect_error(j, {"arch.json", "pe_array.row_max", "sanger_predictor"});
  j = sanger();
  j["pe_array"]["sweep_sync"] = "sometimes";
  expect_error(j, {"pe_array.sweep_sync"});
}

// A systolic array taller than the query tile gets a tile of its height
// (tiling.fill_array), a Sanger array keeps the configured tile.
TEST(ArchConfig, QueryTilesFillTallSystolicArrays) {
  std::ifstream in(kSrc + "/configs/arch/dense_systolic.json");
  json j = json::parse(in);
  j["pe_array"]["rows"] = 128;
  j["pe_array"]["cols"] = 128;
  EXPECT_EQ(ArchConfig::from_json(j, "arch.json").query_tile_rows(512, 64), 128);
  j["pe_array"]["rows"] = 48;
  EXPECT_EQ(ArchConfig::from_json(j, "arch.json").query_tile_rows(512, 64), 96);
  EXPECT_EQ(ArchConfig::from_json(j, "arch.json").query_tile_rows(80, 64), 80);  // capped by the sequence
  j["tiling"] = {{"query_rows", 64}, {"fill_array", false}};
  EXPECT_EQ(ArchConfig::from_json(j, "arch.json").query_tile_rows(512, 64), 64);
  EXPECT_EQ(ArchConfig::from_json(sanger(), "sanger.json").query_tile_rows(512, 64), 64);
}
