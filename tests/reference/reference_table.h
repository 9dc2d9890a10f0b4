#pragma once
// A comparison table of one unit against its design's public reference,
// written where scripts/reference_table.py renders docs/references.md from.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace attnsim::reference {

inline nlohmann::json load_facts(const std::string& name) {
  const std::string path = std::string(ATTNSIM_SOURCE_DIR) + "/tests/reference/facts/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return nlohmann::json::parse(in);
}

struct Table {
  nlohmann::json j;
  Table(const std::string& unit, const std::string& reference) {
    j = {{"unit", unit}, {"reference", reference}, {"notes", nlohmann::json::array()}, {"rows", nlohmann::json::array()}};
  }
  void note(const std::string& n) { j["notes"].push_back(n); }
  void row(const std::string& c, const std::string& inputs, const nlohmann::json& ours, const nlohmann::json& theirs,
           const std::string& difference, const std::string& parameter) {
    j["rows"].push_back({{"case", c}, {"inputs", inputs}, {"attnsim", ours}, {"reference", theirs},
                         {"difference", difference}, {"parameter", parameter}});
  }
  void write(const std::string& file) const {
    std::filesystem::create_directories(ATTNSIM_REFERENCE_OUT);
    std::ofstream(std::string(ATTNSIM_REFERENCE_OUT) + "/" + file) << j.dump(2) << "\n";
  }
};

}  // namespace attnsim::reference
