#pragma once
// Validated access to a JSON object: each read checks type and range, names
// the file and the JSON path on error, and finish() rejects unknown keys.
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace attnsim {

class JsonReader {
 public:
  JsonReader(const nlohmann::json& j, std::string file, std::string path = "");

  // Parses a file; a missing file, a folder, malformed JSON, a number out of
  // double's range or a key written twice in one object is an InputError.
  static nlohmann::json load_file(const std::string& file);
  // The same rules for text already read from `file`.
  static nlohmann::json parse(const std::string& text, const std::string& file);
  // The file's bytes; InputError naming it when it is missing, a folder or unreadable.
  static std::string read_text(const std::string& file);

  bool has(const std::string& key) const;
  // Missing key with no default is an error; ranges are inclusive.
  double number(const std::string& key, std::optional<double> def, double min, double max);
  int64_t integer(const std::string& key, std::optional<int64_t> def, int64_t min, int64_t max);
  bool boolean(const std::string& key, std::optional<bool> def);
  std::string string(const std::string& key, std::optional<std::string> def,
                     const std::vector<std::string>& allowed = {});
  // A nested object; a missing key yields an empty object.
  JsonReader object(const std::string& key);
  const nlohmann::json& raw(const std::string& key);

  // Throws on the first key that no read asked for.
  void finish() const;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  std::string path_of(const std::string& key) const;
  const std::string& file() const { return file_; }

 private:
  const nlohmann::json& get(const std::string& key);
  const nlohmann::json& j_;
  std::string file_, path_;
  std::set<std::string> used_;
};

}  // namespace attnsim
