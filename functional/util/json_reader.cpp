#include "util/json_reader.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace attnsim {

namespace {
const nlohmann::json& empty_object() {
  static const nlohmann::json e = nlohmann::json::object();
  return e;
}

std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

JsonReader::JsonReader(const nlohmann::json& j, std::string file, std::string path)
    : j_(j), file_(std::move(file)), path_(std::move(path)) {
  if (!j_.is_object()) throw InputError(file_, path_.empty() ? "(top level)" : path_, "expected a JSON object");
}

std::string JsonReader::read_text(const std::string& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw InputError(file, "", "is a folder, expected a file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file, "", "cannot open file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(file, "", "read error");
  return text.str();
}

nlohmann::json JsonReader::load_file(const std::string& file) { return parse(read_text(file), file); }

namespace {

// Walks the parser's events to find a key written twice in one object (the
// parser itself keeps the last): one frame per open object or array.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& file) : file_(file) {}
  bool operator()(int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    switch (event) {
      case E::object_start: frames_.push_back({false, {}, "", 0}); break;
      case E::array_start: frames_.push_back({true, {}, "", 0}); break;
      case E::key: {
        Frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) throw InputError(file_, path(), "key written twice (a JSON object's keys must be unique)");
        break;
      }
      case E::object_end:
      case E::array_end:
        frames_.pop_back();
        element_done();
        break;
      case E::value: element_done(); break;
    }
    return true;
  }

 private:
  struct Frame {
    bool array;
    std::set<std::string> keys;
    std::string key;
    size_t index;
  };
  void element_done() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  std::string path() const {
    std::string p;
    for (const auto& f : frames_) {
      if (f.array) p += "[" + std::to_string(f.index) + "]";
      else p += (p.empty() ? "" : ".") + f.key;
    }
    return p;
  }
  const std::string& file_;
  std::vector<Frame> frames_;
};

}  // namespace

nlohmann::json JsonReader::parse(const std::string& text, const std::string& file) {
  try {
    return nlohmann::json::parse(text, DuplicateKeyCheck(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(file, "", std::string("malformed JSON: ") + e.what());
  } catch (const nlohmann::json::out_of_range& e) {  // 406: a number beyond double's range, e.g. 1e999
    throw InputError(file, "", std::string("number out of range: ") + e.what());
  }
}

std::string JsonReader::path_of(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

void JsonReader::fail(const std::string& key, const std::string& what) const {
  throw InputError(file_, path_of(key), what);
}

bool JsonReader::has(const std::string& key) const { return j_.contains(key); }

const nlohmann::json& JsonReader::get(const std::string& key) {
  used_.insert(key);
  return j_.at(key);
}

const nlohmann::json& JsonReader::raw(const std::string& key) {
  if (!has(key)) fail(key, "missing required key");
  return get(key);
}

double JsonReader::number(const std::string& key, std::optional<double> def, double min, double max) {
  double v;
  if (!has(key)) {
    if (!def) fail(key, "missing required number");
    v = *def;
  } else {
    const auto& x = get(key);
    if (!x.is_number()) fail(key, "expected a number, got " + x.dump());
    v = x.get<double>();
  }
  if (!std::isfinite(v) || v < min || v > max)
    fail(key, "value " + fmt(v) + " out of range (expected " + fmt(min) + " to " + fmt(max) + ")");
  return v;
}

int64_t JsonReader::integer(const std::string& key, std::optional<int64_t> def, int64_t min, int64_t max) {
  int64_t v;
  if (!has(key)) {
    if (!def) fail(key, "missing required integer");
    v = *def;
  } else {
    const auto& x = get(key);
    if (!x.is_number_integer()) fail(key, "expected an integer, got " + x.dump());
    v = x.get<int64_t>();
  }
  if (v < min || v > max)
    fail(key, "value " + std::to_string(v) + " out of range (expected " + std::to_string(min) + " to " +
                  std::to_string(max) + ")");
  return v;
}

bool JsonReader::boolean(const std::string& key, std::optional<bool> def) {
  if (!has(key)) {
    if (!def) fail(key, "missing required boolean");
    return *def;
  }
  const auto& x = get(key);
  if (!x.is_boolean()) fail(key, "expected true or false, got " + x.dump());
  return x.get<bool>();
}

std::string JsonReader::string(const std::string& key, std::optional<std::string> def,
                               const std::vector<std::string>& allowed) {
  std::string v;
  if (!has(key)) {
    if (!def) fail(key, "missing required string");
    v = *def;
  } else {
    const auto& x = get(key);
    if (!x.is_string()) fail(key, "expected a string, got " + x.dump());
    v = x.get<std::string>();
  }
  if (!allowed.empty()) {
    bool ok = false;
    std::string list;
    for (const auto& a : allowed) {
      ok |= (a == v);
      list += (list.empty() ? "" : ", ") + a;
    }
    if (!ok) fail(key, "unknown value '" + v + "' (expected one of: " + list + ")");
  }
  return v;
}

JsonReader JsonReader::object(const std::string& key) {
  if (!has(key)) return JsonReader(empty_object(), file_, path_of(key));
  const auto& x = get(key);
  if (!x.is_object()) fail(key, "expected a JSON object, got " + x.dump());
  return JsonReader(x, file_, path_of(key));
}

void JsonReader::finish() const {
  for (auto it = j_.begin(); it != j_.end(); ++it)
    if (!used_.count(it.key())) throw InputError(file_, path_of(it.key()), "unknown key");
}

}  // namespace attnsim
