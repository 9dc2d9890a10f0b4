#pragma once
// A stable 64-bit FNV-1a content hash (same value on every platform and run),
// for cache keys and sweep points.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace attnsim {

constexpr uint64_t kFnvOffset = 1469598103934665603ULL;

// Chainable: fnv1a(b, fnv1a(a)) hashes a then b.
inline uint64_t fnv1a(std::string_view s, uint64_t h = kFnvOffset) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// 16 lowercase hex digits.
inline std::string hex64(uint64_t h) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// Chains FNV-1a over a file's bytes into h; false when the file cannot be read.
bool fnv1a_file(const std::string& file, uint64_t& h);

}  // namespace attnsim
