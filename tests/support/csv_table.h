#pragma once
// attnsim compare's CSV (one row per column compared, a header of metric
// names) read back for tests: row label -> {header -> cell}.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace attnsim_test {

inline std::map<std::string, std::map<std::string, std::string>> parse_csv(const std::string& csv) {
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '"' && quoted && i + 1 < line.size() && line[i + 1] == '"') cell += '"', ++i;
      else if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) cells.push_back(cell), cell.clear();
      else cell += c;
    }
    cells.push_back(cell);
    return cells;
  };
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);
  const auto header = split(line);
  std::map<std::string, std::map<std::string, std::string>> table;
  while (std::getline(lines, line)) {
    const auto cells = split(line);
    EXPECT_EQ(cells.size(), header.size()) << line;
    for (size_t i = 0; i < cells.size() && i < header.size(); ++i) table[cells[0]][header[i]] = cells[i];
  }
  return table;
}

}  // namespace attnsim_test
