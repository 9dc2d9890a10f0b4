#include "dse/functional_cache.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/error.h"
#include "util/hash.h"

namespace attnsim {

namespace fs = std::filesystem;

namespace {

template <class T>
void put(std::ostream& o, const T& v) {
  o.write(reinterpret_cast<const char*>(&v), sizeof v);
}
template <class T>
void get(std::istream& i, T& v) {
  i.read(reinterpret_cast<char*>(&v), sizeof v);
}
template <class T>
void put_vec(std::ostream& o, const std::vector<T>& v) {
  put(o, static_cast<uint64_t>(v.size()));
  o.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}
template <class T>
void get_vec(std::istream& i, std::vector<T>& v) {
  uint64_t n = 0;
  get(i, n);
  if (!i || n > (uint64_t(1) << 34)) throw std::runtime_error("corrupt cache entry");
  v.resize(n);
  i.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
}

constexpr uint32_t kMagic = 0x41534644;  // "DFSA": entries with the recall's spread

}  // namespace

FunctionalCache::FunctionalCache(const std::string& dir, const std::string& key) : dir_(dir + "/" + key) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw InputError(dir, "--functional-cache", "cannot create directory " + dir_ + ": " + ec.message());
}

std::string FunctionalCache::functional_key(const ArchConfig& arch, const WorkloadSpec& workload, int query_rows,
                                            int accuracy_rows) {
  const nlohmann::json a = arch.to_json();
  nlohmann::json numerics = {{"number_format", a["pe_array"]["number_format"]},
                             {"prob_format", a["pe_array"]["prob_format"]},
                             {"exp", a["pe_array"]["exp"]}};
  nlohmann::json what = {{"version", 1},
                         {"workload", workload.to_json()},
                         {"mask_unit", a["mask_unit"]},
                         {"numerics", numerics},
                         {"query_rows", query_rows},
                         {"accuracy_rows", accuracy_rows}};
  // The arch records a pattern file by name: its contents decide the masks.
  if (!arch.mask_unit.pattern_file.empty()) {
    std::ifstream in(arch.mask_unit.pattern_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw InputError(arch.mask_unit.pattern_file, "mask_unit.pattern_file", "cannot read the pattern file");
    what["pattern_file_contents"] = hex64(fnv1a(text.str()));
  }
  return hex64(fnv1a(what.dump()));
}

std::string FunctionalCache::file(int layer, int group) const {
  return dir_ + "/L" + std::to_string(layer) + "_G" + std::to_string(group) + ".bin";
}

std::optional<CachedHead> FunctionalCache::load(int layer, int group) const {
  std::ifstream in(file(layer, group), std::ios::binary);
  if (!in) return std::nullopt;
  try {
    uint32_t magic = 0;
    get(in, magic);
    if (magic != kMagic) return std::nullopt;
    CachedHead h;
    std::string info;
    {
      std::vector<char> text;
      get_vec(in, text);
      info.assign(text.begin(), text.end());
    }
    h.head_info = info.empty() ? nlohmann::json() : nlohmann::json::parse(info);
    uint64_t tiles = 0;
    get(in, tiles);
    h.tiles.resize(tiles);
    for (auto& t : h.tiles) {
      get(in, t.mask.rows);
      get(in, t.mask.cols);
      get_vec(in, t.mask.indptr);
      get_vec(in, t.mask.indices);
      auto& a = t.accuracy;
      get(in, a.max_abs_error);
      get(in, a.sum_sq_error);
      get(in, a.sum_sq_ref);
      get(in, a.recall_sum);
      get(in, a.recall_sq_sum);
      get(in, a.sampled);
      get(in, a.rows);
      get(in, a.kept);
      get(in, a.allowed);
    }
    if (!in) return std::nullopt;
    return h;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged entry is recomputed
  }
}

void FunctionalCache::store(int layer, int group, const CachedHead& h) const {
  const std::string target = file(layer, group);
  const std::string tmp = target + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    put(out, kMagic);
    const std::string info = h.head_info.is_null() ? "" : h.head_info.dump();
    put_vec(out, std::vector<char>(info.begin(), info.end()));
    put(out, static_cast<uint64_t>(h.tiles.size()));
    for (const auto& t : h.tiles) {
      put(out, t.mask.rows);
      put(out, t.mask.cols);
      put_vec(out, t.mask.indptr);
      put_vec(out, t.mask.indices);
      const auto& a = t.accuracy;
      put(out, a.max_abs_error);
      put(out, a.sum_sq_error);
      put(out, a.sum_sq_ref);
      put(out, a.recall_sum);
      put(out, a.recall_sq_sum);
      put(out, a.sampled);
      put(out, a.rows);
      put(out, a.kept);
      put(out, a.allowed);
    }
    if (!out) {
      std::remove(tmp.c_str());
      return;  // the cache is an optimisation: a full disk only loses reuse
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) std::remove(tmp.c_str());
}

}  // namespace attnsim
