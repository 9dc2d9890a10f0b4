#include "util/hash.h"

#include <fstream>
#include <vector>

namespace attnsim {

bool fnv1a_file(const std::string& file, uint64_t& h) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  std::vector<char> chunk(1 << 16);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    h = fnv1a(std::string_view(chunk.data(), static_cast<size_t>(in.gcount())), h);
  }
  return !in.bad();
}

}  // namespace attnsim
