// Fuzzes the functional cache's entry reader (FunctionalCache::load of
// DIR/KEY/L0_G0.bin, a head of 2 tiles of 4 rows over 8 keys). Each input
// starts from the entry that store() writes for such a head:
//   byte 0 % 3 == 0: the rest of the input replaces the file;
//   byte 0 % 3 == 1: the rest is XORed into the stored bytes (appended past
//                    their end): mostly exercises the checksum;
//   byte 0 % 3 == 2: the same, then the checksum (FNV-1a of the body, in the
//                    last 8 bytes) is recomputed, so the fuzzer reaches the
//                    body's parser. Should the format change, this mode only
//                    degrades to checksum rejections.
// A damaged entry must come back as "no entry" (recomputed), named by
// damaged(); an entry that loads must be internally consistent, since the
// timing models index with its masks as they are.
#include <cstring>

#include "dse/functional_cache.h"
#include "fuzz_common.h"
#include "util/hash.h"

namespace {

constexpr int kTiles = 2, kTileRows = 4, kSeq = 8;

attnsim::CachedHead sample_head() {
  attnsim::CachedHead h;
  h.head_info = {{"kind", "fuzz"}, {"rows", kSeq}};
  for (int t = 0; t < kTiles; ++t) {
    attnsim::CachedTile tile;
    tile.mask.cols = kSeq;
    for (int r = 0; r < kTileRows; ++r) tile.mask.add_row(r % 2 ? std::vector<int32_t>{0, r} : std::vector<int32_t>{r});
    tile.accuracy.rows = kTileRows;
    tile.accuracy.kept = tile.mask.nnz();
    h.tiles.push_back(tile);
  }
  return h;
}

void check_mask(const attnsim::CsrMask& m) {
  FUZZ_CHECK(m.rows == kTileRows && m.cols == kSeq, "a loaded tile has the wrong shape");
  FUZZ_CHECK(m.indptr.size() == static_cast<size_t>(m.rows) + 1, "indptr size is not rows + 1");
  FUZZ_CHECK(m.indptr.front() == 0 && m.indptr.back() == m.nnz(), "indptr does not span the indices");
  for (int r = 0; r < m.rows; ++r) FUZZ_CHECK(m.indptr[r] <= m.indptr[r + 1], "indptr decreases");
  for (int32_t c : m.indices) FUZZ_CHECK(c >= 0 && c < m.cols, "column index out of range");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const fuzz::fs::path dir = fuzz::scratch() / "cache";
  const attnsim::FunctionalCache cache(dir.string(), "key");
  std::string bytes = attnsim::FunctionalCache::encode(sample_head());
  const int mode = data[0] % 3;
  if (mode == 0) {
    bytes.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    if (bytes.size() < size - 1) bytes.resize(size - 1, '\0');
    for (size_t i = 1; i < size; ++i) bytes[i - 1] = static_cast<char>(bytes[i - 1] ^ data[i]);
    if (mode == 2 && bytes.size() >= sizeof(uint64_t)) {
      const size_t body = bytes.size() - sizeof(uint64_t);
      const uint64_t sum = attnsim::fnv1a(std::string_view(bytes.data(), body));
      std::memcpy(&bytes[body], &sum, sizeof sum);
    }
  }
  fuzz::write_file(dir / "key/L0_G0.bin", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  std::optional<attnsim::CachedHead> h;
  if (!fuzz::accepts([&] { h = cache.load(0, 0, kTiles, kTileRows, kSeq); })) return 0;
  if (!h) {
    FUZZ_CHECK(cache.damaged().size() == 1, "a rejected entry is not reported as damaged");
    return 0;
  }
  FUZZ_CHECK(static_cast<int>(h->tiles.size()) == kTiles, "wrong number of tiles");
  for (const auto& t : h->tiles) check_mask(t.mask);
  return 0;
}
