#pragma once
// What attnsim writes never replaces an input or anything attnsim did not
// make: each output path is checked before any work starts.
#include <functional>
#include <string>
#include <vector>

namespace attnsim {

// Whether an existing file or folder is one attnsim made (a report, a dump).
using MadeByAttnsim = std::function<bool(const std::string& path)>;

// `out` (for `option`) is a file to write: it must not be a folder, nor the
// same file as (or a folder holding) one of `inputs`, and an existing file
// must be one `ours` accepts ("`kind`"). InputError naming `out` otherwise.
void check_output_file(const std::string& out, const std::string& option, const std::vector<std::string>& inputs,
                       const MadeByAttnsim& ours, const std::string& kind);

// `dir` is a folder attnsim will replace as a whole: it may be absent, an
// empty folder or one `ours` accepts; it must hold none of `inputs` and not
// be (or hold) the working folder.
void check_output_folder(const std::string& dir, const std::string& option, const std::vector<std::string>& inputs,
                         const MadeByAttnsim& ours, const std::string& kind);

// "d/" -> "d" (a folder's name, to build sibling names from); "" stays "".
std::string without_trailing_separator(const std::string& path);

// `path` is `inside` itself or lies somewhere below it (both need not exist).
bool path_within(const std::string& path, const std::string& inside);

}  // namespace attnsim
