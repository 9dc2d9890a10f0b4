// Functional-cache entries read from disk: a damaged entry is refused with a
// reason, never decoded into masks that code would index with.
#include <gtest/gtest.h>

#include "dse/functional_cache.h"
#include "util/hash.h"

using attnsim::CachedHead;
using attnsim::FunctionalCache;

namespace {
CachedHead sample_head() {
  CachedHead h;
  h.head_info = {{"plan", "a_shape"}};
  attnsim::CachedTile t;
  t.mask.cols = 8;
  t.mask.add_row({0, 3});
  t.mask.add_row({1, 2, 7});
  t.accuracy.rows = 2;
  t.accuracy.kept = 5;
  h.tiles.push_back(t);
  return h;
}

std::string why(const std::string& bytes) {
  try {
    FunctionalCache::decode(bytes);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// Re-seals bytes with a valid checksum, as a buggy writer (not a flipped bit) would.
std::string reseal(std::string body) {
  const uint64_t sum = attnsim::fnv1a(body);
  body.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  return body;
}
}  // namespace

TEST(FunctionalCacheEntry, RoundTrips) {
  const CachedHead h = sample_head();
  const CachedHead back = FunctionalCache::decode(FunctionalCache::encode(h));
  EXPECT_EQ(back.head_info, h.head_info);
  ASSERT_EQ(back.tiles.size(), 1u);
  EXPECT_EQ(back.tiles[0].mask.indices, h.tiles[0].mask.indices);
  EXPECT_EQ(back.tiles[0].mask.indptr, h.tiles[0].mask.indptr);
  EXPECT_EQ(back.tiles[0].accuracy.kept, 5);
}

TEST(FunctionalCacheEntry, EveryFlippedBitAndEveryTruncationIsRefused) {
  const std::string good = FunctionalCache::encode(sample_head());
  for (size_t i = 0; i < good.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_NE(why(bad), "") << "byte " << i << " bit " << bit;
    }
  for (size_t n = 0; n < good.size(); ++n) EXPECT_NE(why(good.substr(0, n)), "") << n << " bytes";
}

TEST(FunctionalCacheEntry, ACorrectlySealedButInconsistentMaskIsRefused) {
  CachedHead h = sample_head();
  h.tiles[0].mask.indices[2] = 9;  // column 9 of an 8-column mask
  std::string bytes = FunctionalCache::encode(h);
  EXPECT_EQ(why(bytes), "mask column index out of range");
  h = sample_head();
  h.tiles[0].mask.indptr[1] = 6;  // row pointers 0, 6, 5: decreasing
  EXPECT_EQ(why(FunctionalCache::encode(h)), "mask row pointers decrease");
  // A length field that runs past the end (re-sealed so the checksum passes).
  std::string body = FunctionalCache::encode(sample_head());
  body.resize(body.size() - sizeof(uint64_t));
  body[4] = '\x7f';  // the head-info length's low byte
  body[11] = '\x7f';  // its high byte
  EXPECT_EQ(why(reseal(body)), "a length runs past the end");
}
