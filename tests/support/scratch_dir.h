// A fresh, empty scratch directory for this test process, removed when the
// process exits. mkdtemp, not the pid: a pid is reused (CI containers number
// processes alike from run to run), and a directory a former process left
// behind made a resumable sweep find "its" points already done.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace attnsim_test {

inline const std::string& scratch_dir() {
  // Never destroyed: the exit handler below runs after static destructors.
  static const std::string* dir = [] {
    std::string templ = (std::filesystem::temp_directory_path() / "attnsim_test_XXXXXX").string();
    if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed for " + templ);
    std::atexit([] {
      std::error_code ec;  // best effort
      std::filesystem::remove_all(*dir, ec);
    });
    return new std::string(templ);
  }();
  return *dir;
}

}  // namespace attnsim_test
