#include "dse/sweep_spec.h"

#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "config/arch_config.h"
#include "dse/functional_cache.h"
#include "dse/sweep_summary.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/json_reader.h"

namespace attnsim {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

std::vector<SweepObjective> default_objectives() {
  return {{"total.cycles", false}, {"total.energy.total_pj", false}, {"area.total_mm2", false}};
}

std::string describe(const ParamSet& params) {
  std::string s;
  for (const auto& [path, value] : params)
    s += (s.empty() ? "" : ", ") + path + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  return s;
}

namespace {

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::string key_path(const std::string& where, const std::string& key) { return where + "[\"" + key + "\"]"; }
std::string index_path(const std::string& where, size_t i) { return where + "[" + std::to_string(i) + "]"; }

// The base arch with the spec's set and then `params` applied, validated by
// the arch loader (its InputError as is). `effective` gets the arch JSON.
ArchConfig effective_arch(const SweepSpec& s, const ParamSet& params, nlohmann::json* effective) {
  nlohmann::json arch = s.base_arch;
  for (const auto& [path, value] : s.set) apply_arch_override(arch, path, value, s.arch_file);
  for (const auto& [path, value] : params) apply_arch_override(arch, path, value, s.arch_file);
  ArchConfig config = ArchConfig::from_json(arch, s.arch_file);
  if (effective) *effective = std::move(arch);
  return config;
}

// The content hash of the files an arch names besides itself (a pattern
// file's bytes are an input too); "" when one cannot be read.
std::string arch_files_hash(const ArchConfig& config, std::string* unreadable) {
  uint64_t h = kFnvOffset;
  for (const auto& f : config.input_files())
    if (!fnv1a_file(f, h)) {
      *unreadable = f;
      return "";
    }
  return hex64(h);
}

// A point: its content hash covers the effective arch, the files it names,
// the workload's bytes, the run options and the attnsim version.
SweepPoint build_point(const SweepSpec& s, size_t workload, const ParamSet& params, nlohmann::json effective,
                       const ArchConfig& config, const std::string& files_hash, int index) {
  const auto& wl = s.workloads[workload];
  SweepPoint p;
  p.index = index;
  p.workload = workload;
  p.params = params;
  p.arch = std::move(effective);
  const nlohmann::json run_options = {{"accuracy_rows", s.run_options.accuracy_rows}, {"layers", s.run_options.layers}};
  const nlohmann::json inputs = {{"attnsim_version", ATTNSIM_VERSION},
                                 {"arch", p.arch},
                                 {"arch_files", files_hash},
                                 {"workload", wl.content_hash},
                                 {"run_options", run_options}};
  p.hash = hex64(fnv1a(inputs.dump()));
  if (FunctionalCache::applies_to(config, wl.spec))
    p.functional_class = FunctionalCache::functional_key(
        config, wl.spec, config.query_tile_rows(wl.spec.seq_len, wl.spec.head_dim), s.run_options.accuracy_rows);
  return p;
}

// One value (or set of values) of an axis and where it is written in the spec.
struct AxisEntry {
  ParamSet params;
  std::string where;
};

class SpecLoader {
 public:
  SpecLoader(SweepSpec& spec, int64_t max_points) : s_(spec), max_points_(max_points) {}

  void load() {
    const std::string text = JsonReader::read_text(s_.file);
    s_.json = JsonReader::parse(text, s_.file);  // rejects duplicate keys, which would drop an axis
    ordered_ = ojson::parse(text);               // keeps the written order of parameters
    JsonReader r(s_.json, s_.file);
    r.string("name", "");
    r.string("description", "");
    s_.arch_file = resolve(r.string("arch", std::nullopt));
    try {
      s_.base_arch = JsonReader::load_file(s_.arch_file);
    } catch (const InputError& e) {
      r.fail("arch", e.what());
    }
    read_workloads(r);
    read_run_options(r);
    read_objectives(r);
    if (r.has("timeout_s")) s_.timeout_s = r.number("timeout_s", std::nullopt, 1e-3, 1e7);
    if (r.has("set")) read_set(r);
    if (r.has("space")) {
      read_search(r);
    } else {
      for (const char* key : {"constraints", "sampler", "seed", "trials", "population"})
        if (r.has(key)) r.fail("space", std::string("missing: \"") + key + "\" belongs to a search space, which needs \"space\"");
    }
    std::vector<std::vector<AxisEntry>> axes;
    if (r.has("axes")) {
      if (s_.is_search()) r.fail("axes", "a search space has no axes: its parameters are in \"space\"");
      const auto& a = r.raw("axes");
      if (!a.is_array()) r.fail("axes", "expected an array of axes ({\"grid\"|\"zip\"|\"list\"|\"random\": ...})");
      for (size_t i = 0; i < a.size(); ++i) axes.push_back(read_axis(a[i], i));
    }
    r.finish();
    double points = static_cast<double>(s_.workloads.size());
    for (const auto& axis : axes) points *= static_cast<double>(axis.size());
    check_point_count(points, "axes");
    expand(axes);
  }

 private:
  std::string resolve(const std::string& p) const {
    const fs::path path = p, base = fs::path(s_.file).parent_path();
    return (path.is_absolute() || base.empty() ? path : base / path).lexically_normal().string();
  }

  const ojson& ordered(const std::string& pointer) const { return ordered_.at(ojson::json_pointer(pointer)); }

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw InputError(s_.file, where, what);
  }

  // A sweep's points are validated and held in memory before anything runs:
  // their number is bounded up front (attnsim sweep --max-points).
  void check_point_count(double points, const std::string& where) const {
    if (points > static_cast<double>(max_points_))
      fail(where, "expands to " + std::to_string(static_cast<int64_t>(points)) + " points, more than the limit of " +
                      std::to_string(max_points_) + " (attnsim sweep --max-points raises it; or sample with a random axis)");
  }

  // Applies the fixed set and `params` to the base arch and validates it as
  // `attnsim run --set` would; an error names the spec location `where`.
  ArchConfig check(const ParamSet& params, const std::string& where, nlohmann::json* effective = nullptr) const {
    try {
      return effective_arch(s_, params, effective);
    } catch (const InputError& e) {
      fail(where, std::string("rejected by the arch: ") + e.what());
    }
  }

  void claim(const std::string& path, const std::string& where) {
    const auto [it, fresh] = claimed_.emplace(path, where);
    if (!fresh) fail(where, "parameter '" + path + "' is already given by " + it->second);
  }

  void read_workloads(JsonReader& r) {
    std::vector<std::pair<std::string, std::string>> files;  // (path as written, where)
    if (r.has("workload") == r.has("workloads"))
      r.fail("workloads", "expected either \"workload\": FILE or \"workloads\": [FILE, ...]");
    if (r.has("workload")) {
      files.emplace_back(r.string("workload", std::nullopt), "workload");
    } else {
      const auto& list = r.raw("workloads");
      if (!list.is_array() || list.empty()) r.fail("workloads", "expected a non-empty array of workload files");
      for (size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_string()) fail(index_path("workloads", i), "expected a file name, got " + list[i].dump());
        files.emplace_back(list[i].get<std::string>(), index_path("workloads", i));
      }
    }
    for (const auto& [written, where] : files) {
      SweepWorkload w;
      w.file = resolve(written);
      try {
        w.spec = WorkloadSpec::load(w.file);
      } catch (const InputError& e) {
        fail(where, e.what());
      }
      uint64_t h = kFnvOffset;
      std::vector<std::string> inputs = {w.file};
      if (w.spec.data_kind == "npy") inputs.insert(inputs.end(), {w.spec.q_path, w.spec.k_path, w.spec.v_path});
      for (const auto& f : inputs)
        if (!fnv1a_file(f, h)) fail(where, w.file + ": cannot read " + f);
      w.content_hash = hex64(h);
      s_.workloads.push_back(std::move(w));
    }
  }

  void read_run_options(JsonReader& r) {
    auto o = r.object("run_options");
    s_.run_options.accuracy_rows = static_cast<int>(o.integer("accuracy_rows", 0, 0, 1 << 20));
    s_.run_options.layers = static_cast<int>(o.integer("layers", 0, 0, 1024));
    o.finish();
    if (s_.run_options.layers)
      for (auto& w : s_.workloads) {
        if (s_.run_options.layers > w.spec.layers)
          o.fail("layers", std::to_string(s_.run_options.layers) + " layers asked for, but " + w.file + " has only " +
                               std::to_string(w.spec.layers));
        w.spec.layers_to_simulate = s_.run_options.layers;
      }
  }

  void read_objectives(JsonReader& r) {
    if (!r.has("objectives")) {
      s_.objectives = default_objectives();
      return;
    }
    const auto& list = r.raw("objectives");
    if (!list.is_array() || list.empty())
      r.fail("objectives", "expected a non-empty array of {\"metric\": REPORT_PATH, \"goal\": \"min\"|\"max\"}");
    for (size_t i = 0; i < list.size(); ++i) {
      JsonReader o(list[i], s_.file, index_path("objectives", i));
      SweepObjective obj;
      obj.metric = o.string("metric", std::nullopt);
      if (obj.metric.empty()) o.fail("metric", "expected a report path such as total.cycles");
      obj.maximise = o.string("goal", "min", {"min", "max"}) == "max";
      o.finish();
      s_.objectives.push_back(obj);
    }
  }

  // A search space file (docs/search.md): "space", "constraints" and the
  // engine's settings. The ranges' ends and every choice are checked by the
  // arch as axis values are.
  void read_search(JsonReader& r) {
    if (s_.workloads.size() != 1)
      r.fail("workloads", "a search optimises one workload; run one search per workload");
    const auto& space = r.raw("space");
    if (!space.is_object() || space.empty())
      r.fail("space", "expected a non-empty object {\"PATH\": {\"int\"|\"float\"|\"choices\": ...}, ...}");
    for (const auto& key : keys_of("/space", "space")) s_.space.push_back(read_range(space.at(key), key));
    for (const auto& range : s_.space) s_.parameters.push_back(range.path);
    for (size_t i = 0; i < s_.objectives.size(); ++i)
      if (!known_metric(s_.objectives[i].metric))
        fail(index_path("objectives", i) + ".metric", unknown_metric(s_.objectives[i].metric));
    if (r.has("constraints")) read_constraints(r.raw("constraints"));
    s_.search.sampler = r.string("sampler", "nsga2", {"nsga2", "tpe", "random"});
    s_.search.seed = r.integer("seed", 0, 0, (int64_t{1} << 31) - 1);
    s_.search.trials = r.integer("trials", 100, 1, 10000000);
    s_.search.population = r.integer("population", 50, 2, 100000);
  }

  SpaceRange read_range(const nlohmann::json& d, const std::string& key) {
    const std::string w = key_path("space", key);
    const char* forms = "expected {\"int\": [LO, HI], \"step\"?: N, \"log\"?: true}, {\"float\": [LO, HI], \"log\"?: true} or {\"choices\": [VALUES]}";
    if (!d.is_object()) fail(w, forms);
    JsonReader r(d, s_.file, w);
    SpaceRange range;
    range.path = key;
    for (const char* kind : {"int", "float", "choices"})
      if (r.has(kind)) {
        if (!range.kind.empty()) fail(w, std::string(forms) + "; got both " + range.kind + " and " + kind);
        range.kind = kind;
      }
    if (range.kind.empty()) fail(w, forms);
    const auto& v = r.raw(range.kind);
    if (range.kind == "choices") {
      range.choices = values_of(v, key, w + ".choices");
      for (size_t k = 0; k < range.choices.size(); ++k) {
        const auto& c = range.choices[k];
        if (!(c.is_number() || c.is_string() || c.is_boolean()))
          fail(index_path(w + ".choices", k), "a search's choices are numbers, strings or booleans, got " + c.dump());
        for (size_t j = 0; j < k; ++j)
          if (range.choices[j] == c) fail(index_path(w + ".choices", k), "the choice " + c.dump() + " is listed twice");
      }
      r.finish();
      return range;
    }
    const bool integer = range.kind == "int";
    if (!v.is_array() || v.size() != 2 || !(integer ? v[0].is_number_integer() : v[0].is_number()) ||
        !(integer ? v[1].is_number_integer() : v[1].is_number()) || !(v[0].get<double>() < v[1].get<double>()))
      fail(w + "." + range.kind, std::string("expected [LO, HI] with LO < HI") + (integer ? ", integers" : "") +
                                     ", got " + v.dump());
    range.lo = v[0].get<double>();
    range.hi = v[1].get<double>();
    range.log = r.boolean("log", false);
    if (integer) range.step = r.integer("step", 1, 1, INT64_MAX);
    r.finish();
    if (range.log && range.lo <= 0) fail(w + ".log", "a log scale needs LO > 0, got " + v.dump());
    if (range.log && range.step != 1) fail(w + ".step", "a log-scale int range has step 1 (Optuna's rule)");
    check({{key, v[0]}}, w + "." + range.kind + "[0]");
    check({{key, v[1]}}, w + "." + range.kind + "[1]");
    if (integer && (range.hi - range.lo > 1e15 || static_cast<int64_t>(range.hi - range.lo) % range.step != 0))
      fail(w + ".step", "HI - LO must be a multiple of the step (and below 1e15), got [" + v[0].dump() + ", " +
                            v[1].dump() + "] with step " + std::to_string(range.step));
    return range;
  }

  void read_constraints(const nlohmann::json& list) {
    if (!list.is_array() || list.empty())
      fail("constraints", "expected a non-empty array of {\"metric\": NAME, \"max\"?: X, \"min\"?: Y}");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string w = index_path("constraints", i);
      JsonReader o(list[i], s_.file, w);
      SearchConstraint c;
      c.metric = o.string("metric", std::nullopt);
      if (!known_metric(c.metric)) o.fail("metric", unknown_metric(c.metric));
      if (o.has("min")) c.min = o.number("min", std::nullopt, -1e300, 1e300);
      if (o.has("max")) c.max = o.number("max", std::nullopt, -1e300, 1e300);
      o.finish();
      if (!c.min && !c.max) fail(w, "expected \"min\", \"max\" or both");
      if (c.min && c.max && *c.min > *c.max)
        fail(w, "impossible: min " + number_text(*c.min) + " > max " + number_text(*c.max));
      // Bounds no point can meet: outside the metric's possible values, or
      // (for what the arch alone fixes) outside what the space spans.
      auto [lo, hi] = metric_bounds(c.metric);
      if (c.metric == "sram_kib") std::tie(lo, hi) = sram_kib_span();
      const auto span = "impossible: " + c.metric + " spans [" + number_text(lo) + ", " +
                        number_text(hi) + "] over the space";
      if (c.max && *c.max < lo) fail(w + ".max", span);
      if (c.min && *c.min > hi) fail(w + ".min", span);
      s_.constraints.push_back(c);
    }
  }

  // The smallest and largest total SRAM (KiB) the space's points have.
  std::pair<double, double> sram_kib_span() {
    const ArchConfig base = check({}, "arch");
    double lo = 0, hi = 0;
    for (const auto& [buffer, kib] : base.memory.buffer_kib()) {
      double b_lo = kib, b_hi = kib;
      for (const auto& range : s_.space) {
        if (range.path != "memory.sram_kib." + buffer) continue;
        if (range.kind != "choices") {
          b_lo = range.lo;
          b_hi = range.hi;
        } else {
          b_lo = 1e300;
          b_hi = -1e300;
          for (const auto& c : range.choices)
            if (c.is_number()) {
              b_lo = std::min(b_lo, c.get<double>());
              b_hi = std::max(b_hi, c.get<double>());
            }
        }
      }
      lo += b_lo;
      hi += b_hi;
    }
    return {lo, hi};
  }

  void read_set(JsonReader& r) {
    const auto& set = r.raw("set");
    if (!set.is_object()) r.fail("set", "expected an object {\"PATH\": VALUE, ...}");
    for (const auto& [path, value] : ordered("/set").items()) {
      claim(path, key_path("set", path));
      s_.set.emplace_back(path, nlohmann::json::parse(value.dump()));
    }
    check({}, "set");
  }

  // The values of one parameter (grid, zip): a non-empty array, each value
  // valid on its own.
  std::vector<nlohmann::json> values_of(const nlohmann::json& list, const std::string& path, const std::string& where) {
    if (!list.is_array() || list.empty()) fail(where, "empty axis: expected a non-empty array of values");
    // Every bad value is named, not only the first.
    std::vector<std::string> rejected;
    for (size_t k = 0; k < list.size(); ++k) {
      try {
        check({{path, list[k]}}, index_path(where, k));
      } catch (const InputError& e) {
        std::string why = e.what();
        if (why.rfind(s_.file + ": ", 0) == 0) why.erase(0, s_.file.size() + 2);
        rejected.push_back(why);
      }
    }
    if (rejected.size() == 1) fail(where, rejected[0]);
    if (!rejected.empty()) {
      std::string all;
      for (const auto& r : rejected) all += (all.empty() ? "" : "; ") + r;
      fail(where, std::to_string(rejected.size()) + " of " + std::to_string(list.size()) + " values rejected: " + all);
    }
    return list.get<std::vector<nlohmann::json>>();
  }

  // The parameter names of an axis object, in written order.
  std::vector<std::string> keys_of(const std::string& pointer, const std::string& where) {
    std::vector<std::string> keys;
    for (const auto& item : ordered(pointer).items()) keys.push_back(item.key());
    if (keys.empty()) fail(where, "empty axis: expected at least one parameter");
    for (const auto& k : keys) claim(k, key_path(where, k));
    return keys;
  }

  std::vector<AxisEntry> read_axis(const nlohmann::json& axis, size_t index) {
    const std::string where = index_path("axes", index);
    static const std::set<std::string> kinds = {"grid", "zip", "list", "random"};
    if (!axis.is_object() || axis.size() != 1 || !kinds.count(axis.begin().key()))
      fail(where, "expected an object with one key: \"grid\", \"zip\", \"list\" or \"random\"");
    const std::string kind = axis.begin().key(), at = where + "." + kind;
    const nlohmann::json& body = axis.begin().value();
    const std::string pointer = "/axes/" + std::to_string(index) + "/" + kind;
    std::vector<AxisEntry> entries;
    if (kind == "grid" || kind == "zip") {
      if (!body.is_object()) fail(at, "expected an object {\"PATH\": [VALUES], ...}");
      const auto keys = keys_of(pointer, at);
      std::vector<std::vector<nlohmann::json>> values;
      for (const auto& k : keys) values.push_back(values_of(body.at(k), k, key_path(at, k)));
      if (kind == "grid") {
        double product = 1;  // counted before anything is built
        for (const auto& v : values) product *= static_cast<double>(v.size());
        check_point_count(product, at);
        entries.push_back({{}, at});
        for (size_t p = 0; p < keys.size(); ++p) {
          std::vector<AxisEntry> next;
          for (const auto& e : entries)
            for (size_t k = 0; k < values[p].size(); ++k) {
              AxisEntry n = e;
              n.params.emplace_back(keys[p], values[p][k]);
              next.push_back(std::move(n));
            }
          entries = std::move(next);
        }
      } else {
        for (size_t p = 1; p < keys.size(); ++p)
          if (values[p].size() != values[0].size())
            fail(key_path(at, keys[p]), "zip axis of unequal lengths: " + std::to_string(values[p].size()) +
                                            " values, but " + keys[0] + " has " + std::to_string(values[0].size()));
        for (size_t k = 0; k < values[0].size(); ++k) {
          AxisEntry e{{}, index_path(at, k)};
          for (size_t p = 0; p < keys.size(); ++p) e.params.emplace_back(keys[p], values[p][k]);
          entries.push_back(std::move(e));
        }
      }
    } else if (kind == "list") {
      if (!body.is_array() || body.empty()) fail(at, "empty axis: expected a non-empty array of {\"PATH\": VALUE} objects");
      std::set<std::string> keys;
      for (size_t k = 0; k < body.size(); ++k) {
        const std::string w = index_path(at, k);
        if (!body[k].is_object() || body[k].empty()) fail(w, "expected a non-empty object {\"PATH\": VALUE, ...}");
        AxisEntry e{{}, w};
        for (const auto& [path, value] : ordered(pointer + "/" + std::to_string(k)).items()) {
          check({{path, nlohmann::json::parse(value.dump())}}, key_path(w, path));
          e.params.emplace_back(path, nlohmann::json::parse(value.dump()));
          if (keys.insert(path).second) claim(path, key_path(w, path));
        }
        entries.push_back(std::move(e));
      }
    } else {
      entries = read_random(body, at, pointer);
    }
    // Entries of several values must be valid together (a grid's
    // combinations are checked as points, with their point index).
    if (kind != "grid")
      for (const auto& e : entries) check(e.params, e.where);
    return entries;
  }

  // {"n": N, "seed": S, "params": {PATH: {"choices": [...]} | {"int": [lo, hi]} | {"float": [lo, hi]}}}.
  // mt19937_64 is fully specified by the standard; the mapping to ranges is
  // done here (not by std::*_distribution) so samples match on every platform.
  std::vector<AxisEntry> read_random(const nlohmann::json& body, const std::string& at, const std::string& pointer) {
    JsonReader r(body, s_.file, at);
    const int n = static_cast<int>(r.integer("n", std::nullopt, 1, 1000000));
    const uint64_t seed = static_cast<uint64_t>(r.integer("seed", 0, 0, INT64_MAX));
    const auto& params = r.raw("params");
    if (!params.is_object()) r.fail("params", "expected an object {\"PATH\": {\"choices\"|\"int\"|\"float\": ...}}");
    r.finish();
    struct Range {
      std::string path, kind;
      std::vector<nlohmann::json> choices;
      double lo = 0, hi = 0;
    };
    std::vector<Range> ranges;
    for (const auto& key : keys_of(pointer + "/params", at + ".params")) {
      const std::string w = key_path(at + ".params", key);
      const auto& d = params.at(key);
      if (!d.is_object() || d.size() != 1)
        fail(w, "expected {\"choices\": [VALUES]}, {\"int\": [LO, HI]} or {\"float\": [LO, HI]}");
      Range range{key, d.begin().key(), {}, 0, 0};
      const auto& v = d.begin().value();
      if (range.kind == "choices") {
        range.choices = values_of(v, key, w + ".choices");
      } else if (range.kind == "int" || range.kind == "float") {
        const bool integer = range.kind == "int";
        if (!v.is_array() || v.size() != 2 || !(integer ? v[0].is_number_integer() : v[0].is_number()) ||
            !(integer ? v[1].is_number_integer() : v[1].is_number()) || v[0].get<double>() > v[1].get<double>())
          fail(w + "." + range.kind, std::string("expected [LO, HI] with LO <= HI") + (integer ? ", integers" : "") +
                                         ", got " + v.dump());
        range.lo = v[0].get<double>();
        range.hi = v[1].get<double>();
        check({{key, v[0]}}, w + "." + range.kind + "[0]");
        check({{key, v[1]}}, w + "." + range.kind + "[1]");
      } else {
        fail(w, "unknown range '" + range.kind + "' (expected choices, int or float)");
      }
      ranges.push_back(std::move(range));
    }
    std::mt19937_64 rng(seed);
    std::vector<AxisEntry> entries;
    for (int k = 0; k < n; ++k) {
      AxisEntry e{{}, at + " sample " + std::to_string(k)};
      for (const auto& range : ranges) {
        const uint64_t x = rng();
        nlohmann::json value;
        if (range.kind == "choices") {
          value = range.choices[x % range.choices.size()];
        } else if (range.kind == "int") {
          const auto lo = static_cast<int64_t>(range.lo), hi = static_cast<int64_t>(range.hi);
          value = lo + static_cast<int64_t>(x % (static_cast<uint64_t>(hi - lo) + 1));
        } else {
          value = range.lo + (range.hi - range.lo) * (static_cast<double>(x >> 11) * 0x1.0p-53);
        }
        e.params.emplace_back(range.path, value);
      }
      e.where += " (" + describe(e.params) + ")";
      entries.push_back(std::move(e));
    }
    return entries;
  }

  // The product of the axes (first axis slowest), for each workload.
  void expand(const std::vector<std::vector<AxisEntry>>& axes) {
    std::vector<ParamSet> combos = {{}};
    for (const auto& axis : axes) {
      std::vector<ParamSet> next;
      for (const auto& c : combos)
        for (const auto& e : axis) {
          ParamSet p = c;
          p.insert(p.end(), e.params.begin(), e.params.end());
          next.push_back(std::move(p));
        }
      combos = std::move(next);
    }
    for (const auto& c : combos)
      for (const auto& [path, value] : c)
        if (std::find(s_.parameters.begin(), s_.parameters.end(), path) == s_.parameters.end())
          s_.parameters.push_back(path);
    struct Arch {
      nlohmann::json effective;
      ArchConfig config;
      std::string files_hash;
    };
    std::vector<Arch> archs;
    for (size_t c = 0; c < combos.size(); ++c) {
      Arch a;
      a.config = check(combos[c], "point " + std::to_string(c) + " (" + describe(combos[c]) + ")", &a.effective);
      std::string unreadable;
      a.files_hash = arch_files_hash(a.config, &unreadable);
      if (a.files_hash.empty()) fail("arch", "cannot read " + unreadable);
      archs.push_back(std::move(a));
    }
    for (size_t w = 0; w < s_.workloads.size(); ++w)
      for (size_t c = 0; c < combos.size(); ++c)
        s_.points.push_back(build_point(s_, w, combos[c], archs[c].effective, archs[c].config, archs[c].files_hash,
                                        static_cast<int>(s_.points.size())));
  }

  SweepSpec& s_;
  int64_t max_points_;
  ojson ordered_;
  std::map<std::string, std::string> claimed_;  // parameter path -> where it is given
};

}  // namespace

SweepSpec SweepSpec::load(const std::string& file, int64_t max_points) {
  SweepSpec spec;
  spec.file = file;
  SpecLoader(spec, max_points).load();
  return spec;
}

SweepPoint SweepSpec::make_point(const ParamSet& params, int index, const std::string& where) const {
  nlohmann::json effective;
  ArchConfig config;
  try {
    config = effective_arch(*this, params, &effective);
  } catch (const InputError& e) {
    throw InputError(file, where, std::string("rejected by the arch: ") + e.what());
  }
  std::string unreadable;
  const std::string files_hash = arch_files_hash(config, &unreadable);
  if (files_hash.empty()) throw InputError(file, "arch", "cannot read " + unreadable);
  return build_point(*this, 0, params, std::move(effective), config, files_hash, index);
}

std::vector<std::string> SweepSpec::run_args(const SweepPoint& point, const std::string& report_file,
                                             const std::string& functional_cache_dir) const {
  // One thread per point: the sweep runs its points in parallel.
  std::vector<std::string> args = {"run", "-q", "--threads", "1", "-a", arch_file, "-w", workloads[point.workload].file,
                                   "-o", report_file};
  for (const ParamSet* overrides : {&set, &point.params})
    for (const auto& [path, value] : *overrides) args.insert(args.end(), {"--set", path + "=" + value.dump()});
  if (run_options.accuracy_rows) args.insert(args.end(), {"--accuracy-rows", std::to_string(run_options.accuracy_rows)});
  if (run_options.layers) args.insert(args.end(), {"--layers", std::to_string(run_options.layers)});
  if (!functional_cache_dir.empty()) args.insert(args.end(), {"--functional-cache", functional_cache_dir});
  return args;
}

}  // namespace attnsim
