#pragma once
// Runs the attnsim binary as a user would, capturing exit code and output.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "scratch_dir.h"

namespace attnsim_test {

inline const std::string kSrc = ATTNSIM_SOURCE_DIR;

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh scratch directory per test process.
inline std::string scratch() { return scratch_dir(); }

inline CliResult run_attnsim(const std::string& args) {
  const std::string out = scratch() + "/stdout.txt", err = scratch() + "/stderr.txt";
  const std::string cmd = "cd " + kSrc + " && " + std::string(ATTNSIM_BIN) + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

}  // namespace attnsim_test
