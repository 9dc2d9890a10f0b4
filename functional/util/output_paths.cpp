#include "util/output_paths.h"

#include <filesystem>

#include "util/error.h"

namespace attnsim {

namespace fs = std::filesystem;

namespace {
// Absolute, with symbolic links of the existing part resolved.
fs::path resolved(const std::string& p) {
  std::error_code ec;
  const fs::path a = fs::absolute(p, ec);
  if (ec) return fs::path(p).lexically_normal();
  fs::path r = fs::weakly_canonical(a, ec);
  return ec ? a.lexically_normal() : r;
}

void require_name(const std::string& path, const std::string& option) {
  if (path.empty()) throw InputError("", option, "expected a path, got an empty string");
}
}  // namespace

std::string without_trailing_separator(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool path_within(const std::string& path, const std::string& inside) {
  const fs::path p = resolved(path), d = resolved(inside);
  auto pi = p.begin();
  for (auto di = d.begin(); di != d.end(); ++di, ++pi) {
    if (di->empty()) continue;  // a trailing separator
    if (pi == p.end() || *pi != *di) return false;
  }
  return true;
}

void check_output_file(const std::string& out, const std::string& option, const std::vector<std::string>& inputs,
                       const MadeByAttnsim& ours, const std::string& kind) {
  require_name(out, option);
  std::error_code ec;
  for (const auto& in : inputs)
    if (!in.empty() && path_within(in, out))
      throw InputError(out, option, "is the input " + in + "; attnsim never writes over its inputs");
  if (fs::is_directory(out, ec)) throw InputError(out, option, "is a folder, expected a file name");
  if (fs::exists(out, ec) && !ours(out))
    throw InputError(out, option,
                     "exists and is not " + kind + "; attnsim replaces only files it made (remove it or choose another name)");
}

void check_output_folder(const std::string& dir, const std::string& option, const std::vector<std::string>& inputs,
                         const MadeByAttnsim& ours, const std::string& kind) {
  require_name(dir, option);
  std::error_code ec;
  if (path_within(fs::current_path(ec).string(), dir))
    throw InputError(dir, option, "is the working folder or holds it; choose a new folder");
  for (const auto& in : inputs)
    if (!in.empty() && path_within(in, dir))
      throw InputError(dir, option, "holds the input " + in + "; attnsim never replaces its inputs");
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) throw InputError(dir, option, "is a file, expected a folder");
  if (fs::is_empty(dir, ec) || ours(dir)) return;
  throw InputError(dir, option,
                   "is a folder that is neither empty nor " + kind +
                       "; attnsim replaces only folders it made (remove it or choose another folder)");
}

}  // namespace attnsim
