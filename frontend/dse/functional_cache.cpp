#include "dse/functional_cache.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "util/error.h"
#include "util/hash.h"

namespace attnsim {

namespace fs = std::filesystem;

namespace {

// Entry layout: magic, payload, FNV-1a of magic + payload (8 bytes).
constexpr uint32_t kMagic = 0x43534644;  // "DFSC": checksummed entries

class Writer {
 public:
  template <class T>
  void put(const T& v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  template <class T>
  void put_vec(const std::vector<T>& v) {
    put(static_cast<uint64_t>(v.size()));
    if (!v.empty()) bytes_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

// Reads within [begin, end) only: every length is checked against what is left.
class Reader {
 public:
  Reader(const char* begin, const char* end) : p_(begin), end_(end) {}
  template <class T>
  void get(T& v) {
    need(sizeof v);
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
  }
  template <class T>
  void get_vec(std::vector<T>& v) {
    uint64_t n = 0;
    get(n);
    if (n > static_cast<uint64_t>(end_ - p_) / sizeof(T)) throw std::runtime_error("a length runs past the end");
    v.resize(n);
    if (n) std::memcpy(v.data(), p_, n * sizeof(T));  // an empty vector's data() may be null
    p_ += n * sizeof(T);
  }
  bool done() const { return p_ == end_; }

 private:
  void need(size_t n) const {
    if (static_cast<size_t>(end_ - p_) < n) throw std::runtime_error("truncated");
  }
  const char* p_;
  const char* end_;
};

// A tile's fields in entry order, for writing (const) and reading alike.
template <class Tile, class Field, class Vector>
void tile_fields(Tile& t, Field field, Vector vector) {
  field(t.mask.rows);
  field(t.mask.cols);
  vector(t.mask.indptr);
  vector(t.mask.indices);
  auto& a = t.accuracy;
  for (auto* x : {&a.max_abs_error, &a.sum_sq_error, &a.sum_sq_ref, &a.recall_sum, &a.recall_sq_sum}) field(*x);
  field(a.sampled);
  for (auto* x : {&a.rows, &a.kept, &a.allowed}) field(*x);
}

// A CSR mask read from disk must be one before any code indexes with it.
void check_mask(const CsrMask& m) {
  if (m.rows < 0 || m.cols < 0 || m.indptr.size() != static_cast<size_t>(m.rows) + 1 || m.indptr.front() != 0 ||
      static_cast<size_t>(m.indptr.back()) != m.indices.size())
    throw std::runtime_error("mask row pointers do not match its rows and entries");
  for (int r = 0; r < m.rows; ++r)
    if (m.indptr[r + 1] < m.indptr[r]) throw std::runtime_error("mask row pointers decrease");
  for (int32_t c : m.indices)
    if (c < 0 || c >= m.cols) throw std::runtime_error("mask column index out of range");
}

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
  nlohmann::json what = {{"version", 2},
                         {"workload", workload.to_json()},
                         {"workload_data", workload.data_hash()},  // to_json names the tensor files only
                         {"mask_unit", a["mask_unit"]},
                         {"numerics", numerics},
                         {"query_rows", query_rows},
                         {"accuracy_rows", accuracy_rows}};
  // The arch records a unit's input file (a pattern file) by name: its contents decide the masks.
  const std::vector<std::string> files = arch.input_files();
  if (!files.empty()) {
    uint64_t h = kFnvOffset;
    for (const auto& f : files)
      if (!fnv1a_file(f, h)) throw InputError(f, "", "cannot read this input of the arch");
    what["unit_file_contents"] = hex64(h);
  }
  return hex64(fnv1a(what.dump()));
}

std::string FunctionalCache::file(int layer, int group) const {
  return dir_ + "/L" + std::to_string(layer) + "_G" + std::to_string(group) + ".bin";
}

std::string FunctionalCache::encode(const CachedHead& h) {
  Writer w;
  w.put(kMagic);
  const std::string info = h.head_info.is_null() ? "" : h.head_info.dump();
  w.put_vec(std::vector<char>(info.begin(), info.end()));
  w.put(static_cast<uint64_t>(h.tiles.size()));
  for (const auto& t : h.tiles) {
    tile_fields(t, [&](const auto& x) { w.put(x); }, [&](const auto& v) { w.put_vec(v); });
  }
  const uint64_t sum = fnv1a(w.bytes());
  w.put(sum);
  return std::move(w.bytes());
}

CachedHead FunctionalCache::decode(const std::string& bytes) {
  if (bytes.size() < sizeof(kMagic) + sizeof(uint64_t)) throw std::runtime_error("truncated");
  const size_t body = bytes.size() - sizeof(uint64_t);
  uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + body, sizeof sum);
  if (sum != fnv1a(std::string_view(bytes.data(), body))) throw std::runtime_error("checksum mismatch");
  Reader in(bytes.data(), bytes.data() + body);
  uint32_t magic = 0;
  in.get(magic);
  if (magic != kMagic) throw std::runtime_error("not an entry of this attnsim version");
  CachedHead h;
  std::vector<char> info;
  in.get_vec(info);
  try {
    h.head_info = info.empty() ? nlohmann::json() : nlohmann::json::parse(info.begin(), info.end());
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error("malformed head information");
  }
  uint64_t tiles = 0;
  in.get(tiles);
  if (tiles > body) throw std::runtime_error("tile count runs past the end");
  h.tiles.resize(tiles);
  for (auto& t : h.tiles) {
    tile_fields(t, [&](auto& x) { in.get(x); }, [&](auto& v) { in.get_vec(v); });
    check_mask(t.mask);
  }
  if (!in.done()) throw std::runtime_error("trailing bytes");
  return h;
}

std::optional<CachedHead> FunctionalCache::load(int layer, int group, int tiles, int tile_rows, int seq) const {
  const std::string path = file(layer, group);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  try {
    CachedHead h = decode(bytes.str());
    if (static_cast<int>(h.tiles.size()) != tiles) throw std::runtime_error("holds a different number of tiles");
    for (int t = 0; t < tiles; ++t)
      if (h.tiles[t].mask.rows != std::min(tile_rows, seq - t * tile_rows) || h.tiles[t].mask.cols != seq)
        throw std::runtime_error("a tile's mask has the wrong shape");
    return h;
  } catch (const std::exception& e) {
    damaged_.push_back(path + ": " + e.what());
    return std::nullopt;  // recomputed, and store() replaces it
  }
}

void FunctionalCache::store(int layer, int group, const CachedHead& h) const {
  const std::string target = file(layer, group);
  const std::string tmp = target + ".tmp" + std::to_string(getpid());
  const std::string bytes = encode(h);
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
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
