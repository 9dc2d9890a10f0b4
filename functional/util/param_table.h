#pragma once
// Parameters declared once: a table per config struct names each parameter's
// JSON key, its member, range, unit and one-line doc. The table reads a JSON
// object into the struct (type and range checked, unknown keys left for the
// caller's finish()), writes the struct back, and documents it
// (docs/config_reference.md is generated from the tables). Defaults are the
// struct's own member initialisers: reading starts from a default struct and
// a key absent from the JSON keeps the member's value.
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/json_reader.h"

namespace attnsim {

struct ParamDoc {
  std::string name;           // JSON key, nested objects joined by dots (array.rows)
  std::string type;           // integer, number, boolean, one of ..., text
  std::string default_value;  // as JSON
  std::string range;          // e.g. 1 … 4096
  std::string unit;           // cycles, KiB, ...; empty when dimensionless
  std::string doc;
};

template <class S>
class ParamTable {
 public:
  using Read = std::function<void(JsonReader&, S&)>;
  using Write = std::function<void(const S&, nlohmann::json&)>;

  ParamTable& integer(const char* name, int S::*m, int lo, int hi, const char* unit, const char* doc) {
    return add({name, "integer", "", range_text(lo, hi), unit, doc},
               [=](JsonReader& r, S& s) { s.*m = static_cast<int>(r.integer(name, s.*m, lo, hi)); },
               [=](const S& s, nlohmann::json& j) { j[name] = s.*m; });
  }
  ParamTable& number(const char* name, double S::*m, double lo, double hi, const char* unit, const char* doc) {
    return add({name, "number", "", range_text(lo, hi), unit, doc},
               [=](JsonReader& r, S& s) { s.*m = r.number(name, s.*m, lo, hi); },
               [=](const S& s, nlohmann::json& j) { j[name] = s.*m; });
  }
  ParamTable& boolean(const char* name, bool S::*m, const char* doc) {
    return add({name, "boolean", "", "", "", doc}, [=](JsonReader& r, S& s) { s.*m = r.boolean(name, s.*m); },
               [=](const S& s, nlohmann::json& j) { j[name] = s.*m; });
  }
  // A member of any type written as one of a fixed set of strings (enums, and
  // bools spelled as words).
  template <class T>
  ParamTable& choice(const char* name, T S::*m, std::vector<std::pair<std::string, T>> names, const char* doc) {
    std::vector<std::string> allowed;
    for (const auto& n : names) allowed.push_back(n.first);
    std::string type = "one of";
    for (const auto& a : allowed) type += " " + a;
    auto name_of = [names](const T& v) {
      for (const auto& n : names)
        if (n.second == v) return n.first;
      return names.front().first;
    };
    return add({name, type, "", "", "", doc},
               [=](JsonReader& r, S& s) {
                 const std::string text = r.string(name, name_of(s.*m), allowed);
                 for (const auto& n : names)
                   if (n.first == text) s.*m = n.second;
               },
               [=](const S& s, nlohmann::json& j) { j[name] = name_of(s.*m); });
  }
  // A nested JSON object read by another table (e.g. "array": {"rows", ...}).
  template <class Sub>
  ParamTable& object(const char* name, Sub S::*m, const ParamTable<Sub>& sub) {
    return nest(name, sub, [m](auto& s) -> auto& { return s.*m; });
  }
  // A nested JSON object whose keys are more members of this same struct
  // (e.g. memory.sram_kib.q is MemoryConfig::q_kib).
  ParamTable& group(const char* name, const ParamTable<S>& sub) {
    return nest(name, sub, [](auto& s) -> auto& { return s; });
  }
  // A member struct whose keys sit in this same JSON object (a kernel's
  // parameter struct flattened into its unit's object).
  template <class Sub>
  ParamTable& inline_struct(Sub S::*m, const ParamTable<Sub>& sub) {
    for (const ParamDoc& d : sub.docs_) docs_.push_back(d);
    reads_.push_back([=](JsonReader& r, S& s) { sub.read(r, s.*m); });
    writes_.push_back([=](const S& s, nlohmann::json& j) { sub.write(s.*m, j); });
    return *this;
  }
  // Anything else (lists, file paths, formats): its own read and write.
  ParamTable& custom(ParamDoc doc, Read read, Write write) { return add(std::move(doc), read, write); }
  // A rule between this struct's members, checked after reading it.
  ParamTable& rule(std::function<void(JsonReader&, const S&)> check) {
    reads_.push_back([check](JsonReader& r, S& s) { check(r, s); });
    writes_.push_back(nullptr);
    return *this;
  }

  void read(JsonReader& r, S& s) const {
    for (const auto& f : reads_) f(r, s);
  }
  void write(const S& s, nlohmann::json& j) const {
    if (!j.is_object()) j = nlohmann::json::object();
    for (const auto& f : writes_)
      if (f) f(s, j);
  }
  // One row per parameter, defaults taken from `defaults` as written.
  std::vector<ParamDoc> docs(const S& defaults = S{}) const {
    nlohmann::json j;
    write(defaults, j);
    std::vector<ParamDoc> out = docs_;
    for (auto& d : out) {
      const nlohmann::json* v = &j;
      std::string key = d.name;
      for (size_t dot; (dot = key.find('.')) != std::string::npos && v->contains(key.substr(0, dot));) {
        v = &(*v)[key.substr(0, dot)];
        key = key.substr(dot + 1);
      }
      if (v->contains(key)) d.default_value = (*v)[key].dump();
    }
    return out;
  }

 private:
  template <class>
  friend class ParamTable;
  ParamTable& add(ParamDoc doc, Read read, Write write) {
    docs_.push_back(std::move(doc));
    reads_.push_back(std::move(read));
    writes_.push_back(std::move(write));
    return *this;
  }
  // The nested object `name`, read and written by `sub` on part(s) of the struct.
  template <class Sub, class Part>
  ParamTable& nest(const char* name, const ParamTable<Sub>& sub, Part part) {
    for (ParamDoc d : sub.docs_) {
      d.name = std::string(name) + "." + d.name;
      docs_.push_back(d);
    }
    reads_.push_back([=](JsonReader& r, S& s) {
      auto o = r.object(name);
      sub.read(o, part(s));
      o.finish();
    });
    writes_.push_back([=](const S& s, nlohmann::json& j) { sub.write(part(s), j[name]); });
    return *this;
  }
  template <class T>
  static std::string range_text(T lo, T hi) {
    std::ostringstream s;
    s << lo << " … " << hi;
    return s.str();
  }
  std::vector<ParamDoc> docs_;
  std::vector<Read> reads_;
  std::vector<Write> writes_;
};

}  // namespace attnsim
