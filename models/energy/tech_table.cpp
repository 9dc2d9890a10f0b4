#include "energy/tech_table.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "util/json_reader.h"

namespace attnsim {

PowerLawCurve::PowerLawCurve(std::vector<std::pair<double, double>> points) : points_(std::move(points)) {
  std::sort(points_.begin(), points_.end());
}

double PowerLawCurve::at(double x) const {
  if (points_.size() < 2 || !(x > 0)) throw std::logic_error("power-law curve needs two points and x > 0");
  // The segment containing x, or the end segment nearest to it.
  size_t i = 1;
  while (i + 1 < points_.size() && x > points_[i].first) ++i;
  const auto [x0, y0] = points_[i - 1];
  const auto [x1, y1] = points_[i];
  const double exponent = std::log(y1 / y0) / std::log(x1 / x0);
  return y0 * std::pow(x / x0, exponent);
}

namespace {

// {"value": v, "source": "..."}: a published (or derived) number and where it comes from.
double sourced_value(JsonReader& parent, const std::string& key) {
  if (!parent.has(key)) parent.fail(key, "missing required entry");
  auto o = parent.object(key);
  const double v = o.number("value", std::nullopt, 1e-12, 1e12);
  if (o.string("source", std::nullopt).empty()) o.fail("source", "must cite where the number comes from");
  o.finish();
  return v;
}

// {"by_<axis>": {"8": y, "32": y, ...}, "source": "..."}: at least two points.
PowerLawCurve sourced_curve(JsonReader& parent, const std::string& key, const std::string& axis) {
  if (!parent.has(key)) parent.fail(key, "missing required entry");
  auto o = parent.object(key);
  const std::string by = "by_" + axis;
  const auto& table = o.raw(by);
  if (!table.is_object() || table.size() < 2)
    o.fail(by, "expected an object of at least two {\"<" + axis + ">\": value} points");
  std::vector<std::pair<double, double>> points;
  for (const auto& [k, v] : table.items()) {
    double x = 0;
    try {
      size_t used = 0;
      x = std::stod(k, &used);
      if (used != k.size()) throw std::invalid_argument(k);
    } catch (const std::exception&) {
      o.fail(by + "." + k, "expected a number of " + axis + " as the key");
    }
    if (!(x > 0)) o.fail(by + "." + k, "the " + axis + " must be positive");
    if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>()))
      o.fail(by + "." + k, "expected a positive number, got " + v.dump());
    points.emplace_back(x, v.get<double>());
  }
  if (o.string("source", std::nullopt).empty()) o.fail("source", "must cite where the numbers come from");
  o.finish();
  return PowerLawCurve(points);
}

Composite composite(JsonReader& parent, const std::string& key) {
  if (!parent.has(key)) parent.fail(key, "missing required entry");
  auto o = parent.object(key);
  Composite c;
  c.adds = static_cast<int>(o.integer("adds", std::nullopt, 0, 1000));
  c.mults = static_cast<int>(o.integer("mults", std::nullopt, 0, 1000));
  c.iterations = static_cast<int>(o.integer("iterations", 1, 1, 1000));
  if (o.string("source", std::nullopt).empty()) o.fail("source", "must say what the composition is based on");
  o.finish();
  return c;
}

// fp16 or fp32 entry of a table.
double fp_entry(Arith a, double v16, double v32) {
  if (a.bits != 16 && a.bits != 32)
    throw std::logic_error("the tech table has fp16 and fp32 operators only, not fp" + std::to_string(a.bits));
  return a.bits == 16 ? v16 : v32;
}

}  // namespace

double TechTable::add_pj(Arith a) const {
  if (!a.fp) return int_add_pj.at(a.bits);
  return fp_entry(a, fp16_add_pj, fp32_add_pj);
}

double TechTable::mult_pj(Arith a) const {
  if (!a.fp) return int_mult_pj.at(a.bits);
  return fp_entry(a, fp16_mult_pj, fp32_mult_pj);
}

double TechTable::add_um2(Arith a) const {
  if (!a.fp) return int_add_um2.at(a.bits);
  return fp_entry(a, fp16_add_um2, fp32_add_um2);
}

double TechTable::mult_um2(Arith a) const {
  if (!a.fp) return int_mult_um2.at(a.bits);
  return fp_entry(a, fp16_mult_um2, fp32_mult_um2);
}

TechTable TechTable::load(const std::string& file) { return from_json(JsonReader::load_file(file), file); }

TechTable TechTable::from_json(const nlohmann::json& j, const std::string& file) {
  JsonReader r(j, file);
  TechTable t;
  t.file = file;
  t.name = r.string("name", std::nullopt);
  if (t.name.empty()) r.fail("name", "must not be empty");
  r.string("description", "");
  r.string("interpolation", "");
  {
    auto s = r.object("sources");  // name -> citation, referred to by the entries' "source"
    for (const auto& [k, v] : r.raw("sources").items())
      if (!v.is_string() || v.get<std::string>().empty()) s.fail(k, "expected a non-empty citation string");
  }
  {
    auto e = r.object("energy_pj");
    t.int_add_pj = sourced_curve(e, "int_add", "bits");
    t.int_mult_pj = sourced_curve(e, "int_mult", "bits");
    t.fp16_add_pj = sourced_value(e, "fp16_add");
    t.fp16_mult_pj = sourced_value(e, "fp16_mult");
    t.fp32_add_pj = sourced_value(e, "fp32_add");
    t.fp32_mult_pj = sourced_value(e, "fp32_mult");
    t.sram_pj_per_64bit = sourced_curve(e, "sram_access_64bit", "kib");
    t.dram_pj_per_64bit = sourced_value(e, "dram_access_64bit");
    e.finish();
  }
  {
    auto a = r.object("area_um2");
    t.int_add_um2 = sourced_curve(a, "int_add", "bits");
    t.int_mult_um2 = sourced_curve(a, "int_mult", "bits");
    t.fp16_add_um2 = sourced_value(a, "fp16_add");
    t.fp16_mult_um2 = sourced_value(a, "fp16_mult");
    t.fp32_add_um2 = sourced_value(a, "fp32_add");
    t.fp32_mult_um2 = sourced_value(a, "fp32_mult");
    t.sram_um2_per_kib = sourced_value(a, "sram_per_kib");
    a.finish();
  }
  {
    auto c = r.object("composite");
    t.exp_pwl = composite(c, "exp_pwl");
    t.exp_exact = composite(c, "exp_exact");
    t.reciprocal = composite(c, "reciprocal");
    t.softmax_element = composite(c, "softmax_element");
    c.finish();
  }
  r.finish();
  return t;
}

}  // namespace attnsim
