#pragma once
// Errors that reach the user as one line and exit code 2: bad input names the
// file, the JSON path (or tensor) and what was expected.
#include <stdexcept>
#include <string>

namespace attnsim {

class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, const std::string& where, const std::string& what)
      : std::runtime_error(format(file, where, what)) {}

 private:
  static std::string format(const std::string& file, const std::string& where, const std::string& what) {
    std::string s = file.empty() ? std::string("<input>") : file;
    if (!where.empty()) s += ": " + where;
    return s + ": " + what;
  }
};

}  // namespace attnsim
