#include "common/dump.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/npy.h"

namespace gpu_ref {

using json = nlohmann::ordered_json;

std::string DumpInput::meta_path() const { return dir + "/meta.json"; }

namespace {

const json& params_of(const DumpInput& in) {
  static const json empty = json::object();
  auto it = in.meta->find("params");
  return it == in.meta->end() ? empty : *it;
}

int require_dim(const json& m, const std::string& path, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) throw InputError(path, std::string("missing key \"") + key + "\"");
  if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > (int64_t{1} << 30))
    throw InputError(path, std::string("\"") + key + "\" must be a positive integer");
  return it->get<int>();
}

}  // namespace

void DumpInput::fail_param(const std::string& key, const std::string& what) const {
  throw InputError(meta_path(), "params." + key + ": " + what);
}

double DumpInput::param_number(const std::string& key) const {
  const json& p = params_of(*this);
  auto it = p.find(key);
  if (it == p.end()) fail_param(key, "missing");
  if (!it->is_number()) fail_param(key, "expected a number");
  const double v = it->get<double>();
  if (!std::isfinite(v)) fail_param(key, "not finite");
  return v;
}

int DumpInput::param_int(const std::string& key) const {
  const json& p = params_of(*this);
  auto it = p.find(key);
  if (it == p.end()) fail_param(key, "missing");
  if (!it->is_number_integer()) fail_param(key, "expected an integer");
  return it->get<int>();
}

bool DumpInput::param_bool(const std::string& key) const {
  const json& p = params_of(*this);
  auto it = p.find(key);
  if (it == p.end()) fail_param(key, "missing");
  if (!it->is_boolean()) fail_param(key, "expected true or false");
  return it->get<bool>();
}

bool DumpInput::param_bool_or(const std::string& key, bool fallback) const {
  const json& p = params_of(*this);
  return p.contains(key) ? param_bool(key) : fallback;
}

std::string DumpInput::param_string_or(const std::string& key, const std::string& fallback) const {
  const json& p = params_of(*this);
  auto it = p.find(key);
  if (it == p.end()) return fallback;
  if (!it->is_string()) fail_param(key, "expected a string");
  return it->get<std::string>();
}

DumpInput load_dump_meta(const std::string& dir) {
  DumpInput in;
  in.dir = dir;
  const std::string path = in.meta_path();
  std::ifstream f(path);
  if (!f) throw InputError(path, "cannot open (is " + dir + " a dump directory written by attnsim run --dump?)");
  auto meta = std::make_shared<json>();
  try {
    *meta = json::parse(f);
  } catch (const std::exception& e) {
    throw InputError(path, std::string("invalid JSON: ") + e.what());
  }
  if (!meta->is_object()) throw InputError(path, "expected a JSON object");
  in.meta = meta;
  const json& m = *meta;
  if (!m.contains("format") || m["format"] != "attnsim-dump")
    throw InputError(path, "\"format\" is not \"attnsim-dump\"");
  if (!m.contains("version") || m["version"] != 1) throw InputError(path, "unsupported \"version\" (expected 1)");
  if (!m.contains("algorithm") || !m["algorithm"].is_string()) throw InputError(path, "missing \"algorithm\"");
  in.algorithm = m["algorithm"].get<std::string>();
  in.layers = require_dim(m, path, "layers");
  in.groups = require_dim(m, path, "groups");
  in.seq_len = require_dim(m, path, "seq_len");
  in.head_dim = require_dim(m, path, "head_dim");
  if (m.contains("batch") && m.contains("heads")) {
    const int b = require_dim(m, path, "batch"), h = require_dim(m, path, "heads");
    if (static_cast<int64_t>(b) * h != in.groups)
      throw InputError(path, "groups = " + std::to_string(in.groups) + " but batch * heads = " + std::to_string(b) +
                                 " * " + std::to_string(h));
  }
  if (!m.contains("params") || !m["params"].is_object()) throw InputError(path, "missing \"params\" object");
  in.scale = in.param_number("scale");
  if (!(in.scale > 0)) in.fail_param("scale", "must be positive");
  in.causal = in.param_bool("causal");
  return in;
}

namespace {

std::vector<float> load_input(const DumpInput& in, const char* name) {
  const std::string path = in.dir + "/" + name + ".npy";
  NpyArray a = read_npy(path);
  const std::vector<int64_t> want = {in.layers, in.groups, in.seq_len, in.head_dim};
  if (a.dtype != DType::f32)
    throw InputError(path, std::string("dtype ") + dtype_name(a.dtype) + ", expected float32");
  if (a.shape != want)
    throw InputError(path, "shape " + shape_str(a.shape) + " does not match meta.json's [layers, groups, seq_len, head_dim] = " +
                               shape_str(want));
  std::vector<float> out(a.count());
  std::copy(a.as<float>(), a.as<float>() + a.count(), out.begin());
  return out;
}

}  // namespace

void load_dump_tensors(DumpInput& in) {
  in.q = load_input(in, "q");
  in.k = load_input(in, "k");
  in.v = load_input(in, "v");
}

std::string checked_out_dir(const std::string& arg, const std::string& dump_dir) {
  namespace fs = std::filesystem;
  fs::path out = fs::path(arg).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();
  const std::string dir = out.string();
  if (dir.empty() || dir == "." || dir == "/") throw InputError(arg, "not a usable output directory");
  std::error_code ec;
  if (fs::weakly_canonical(dump_dir, ec) == fs::weakly_canonical(dir, ec))
    throw InputError(dir, "OUT_DIR must differ from DUMP_DIR");
  return dir;
}

void write_output_dir(const std::string& out_dir, const std::function<void(const std::string& tmp)>& write_files,
                      const nlohmann::json& meta) {
  namespace fs = std::filesystem;
  const std::string tmp = out_dir + ".partial";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec) || ec) throw InputError(out_dir, "cannot create " + tmp);
  try {
    write_files(tmp);
    {
      std::ofstream f(tmp + "/meta.json");
      f << meta.dump(2) << "\n";
      if (!f) throw InputError(tmp + "/meta.json", "write failed");
    }
    fs::remove_all(out_dir, ec);
    if (ec) throw InputError(out_dir, "cannot replace the old directory: " + ec.message());
    fs::rename(tmp, out_dir, ec);
    if (ec) throw InputError(out_dir, "cannot rename " + tmp + ": " + ec.message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace gpu_ref
