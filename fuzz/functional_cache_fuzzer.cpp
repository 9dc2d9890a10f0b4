// Fuzzes the functional cache's entry reader (FunctionalCache::load of
// DIR/KEY/L0_G0.bin), through the public API only, so the target outlives
// format changes: each input starts from an entry that store() writes, then
//   first byte 0: the rest of the input replaces the file;
//   otherwise:    the rest is XORed into the stored bytes (appended past its end).
// A damaged entry must come back as "no entry" (recomputed) or as an entry
// that is internally consistent: a loaded mask that indexes out of bounds
// would be used by the timing models as is.
#include "dse/functional_cache.h"
#include "fuzz_common.h"

namespace {

attnsim::CachedHead sample_head() {
  attnsim::CachedHead h;
  h.head_info = {{"kind", "fuzz"}, {"rows", 4}};
  for (int t = 0; t < 2; ++t) {
    attnsim::CachedTile tile;
    tile.mask.cols = 4;
    for (int r = 0; r < 4; ++r) tile.mask.add_row(r % 2 ? std::vector<int32_t>{0, r} : std::vector<int32_t>{r});
    tile.accuracy.rows = 4;
    tile.accuracy.kept = tile.mask.nnz();
    h.tiles.push_back(tile);
  }
  return h;
}

void check_mask(const attnsim::CsrMask& m) {
  FUZZ_CHECK(m.rows >= 0 && m.cols >= 0, "negative mask shape");
  FUZZ_CHECK(m.indptr.size() == static_cast<size_t>(m.rows) + 1, "indptr size is not rows + 1");
  FUZZ_CHECK(m.indptr.front() == 0 && m.indptr.back() == m.nnz(), "indptr does not span the indices");
  for (int r = 0; r < m.rows; ++r) FUZZ_CHECK(m.indptr[r] <= m.indptr[r + 1], "indptr decreases");
  for (int32_t c : m.indices) FUZZ_CHECK(c >= 0 && c < m.cols, "column index out of range");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::fs::path dir = fuzz::scratch() / "cache";
  const attnsim::FunctionalCache cache(dir.string(), "key");
  cache.store(0, 0, sample_head());
  const fuzz::fs::path entry = dir / "key/L0_G0.bin";
  if (size > 0 && data[0] == 0) {
    fuzz::write_file(entry, data + 1, size - 1);
  } else if (size > 1) {
    std::string bytes;
    {
      std::ifstream in(entry, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (bytes.size() < size - 1) bytes.resize(size - 1, '\0');
    for (size_t i = 1; i < size; ++i) bytes[i - 1] = static_cast<char>(bytes[i - 1] ^ data[i]);
    fuzz::write_file(entry, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::optional<attnsim::CachedHead> h;
  if (!fuzz::accepts([&] { h = cache.load(0, 0); }) || !h) return 0;
  for (const auto& t : h->tiles) check_mask(t.mask);
  return 0;
}
