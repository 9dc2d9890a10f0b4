#pragma once
// Shared pieces of the fuzz targets (docs/fuzzing.md). The loaders take
// paths, so each input is written to a file in a per-process scratch folder
// that mirrors the repository layout (configs/, workloads/ are symlinks):
// relative paths in a fuzzed spec ("../arch/sanger.json", "data/q.npy",
// "../tech/45nm.json") then reach the shipped files, as they would for a file
// in the repository.
//
// Verdicts: attnsim::InputError is the expected clean rejection. Any other
// exception is left uncaught (libFuzzer reports it with the throw site's
// stack), and FUZZ_CHECK aborts on a broken invariant (a silently wrong result).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "util/error.h"

namespace fuzz {

namespace fs = std::filesystem;

#define FUZZ_CHECK(cond, what)                                                        \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   #cond, std::string(what).c_str());                                 \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

// The scratch folder: created on first use, removed at exit.
inline const fs::path& scratch() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("attnsim-fuzz-" + std::to_string(getpid()));
    fs::remove_all(d);
    // Shipped files, reachable by the relative paths that specs use.
    fs::create_directories(d / "configs/sweeps");
    for (const char* sub : {"configs/arch", "configs/tech", "workloads"})
      fs::create_directory_symlink(fs::path(ATTNSIM_SOURCE_DIR) / sub, d / sub);
    // Fuzzed files go next to them: configs/fuzz_arch/, fuzz_workloads/ (with data/).
    fs::create_directories(d / "configs/fuzz_arch");
    fs::create_directories(d / "fuzz_workloads");
    fs::create_directory_symlink(fs::path(ATTNSIM_SOURCE_DIR) / "workloads/data", d / "fuzz_workloads/data");
    std::atexit([] { std::error_code ec; fs::remove_all(scratch(), ec); });
    return d;
  }();
  return dir;
}

inline void write_file(const fs::path& p, const uint8_t* data, size_t size) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  FUZZ_CHECK(out.good(), "cannot write the scratch file " + p.string());
}

// Writes the input to REL under the scratch folder and returns its path.
inline std::string input_file(const std::string& rel, const uint8_t* data, size_t size) {
  const fs::path p = scratch() / rel;
  write_file(p, data, size);
  return p.string();
}

// Runs a loader; InputError is the clean rejection. Returns whether it accepted.
template <class F>
bool accepts(F&& load) {
  try {
    load();
    return true;
  } catch (const attnsim::InputError&) {
    return false;
  }
}

}  // namespace fuzz
