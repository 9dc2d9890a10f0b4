#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "util/error.h"

namespace attnsim {

int run_python_tool(const char* command, const char* script, int argc, char** argv) {
  namespace fs = std::filesystem;
  const fs::path source = ATTNSIM_SOURCE_DIR;
  // ATTNSIM_PYTHON picks another interpreter (one with the packages of scripts/requirements.txt).
  const char* chosen = std::getenv("ATTNSIM_PYTHON");
  const std::string python = chosen && *chosen ? chosen : (source / ".venv" / "bin" / "python").string();
  const std::string path = (source / "scripts" / script).string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw InputError(path, "", std::string("missing: attnsim ") + command + " runs this script of the source tree");
  if (access(python.c_str(), X_OK) != 0)
    throw InputError(python, "", std::string("no Python environment: attnsim ") + command +
                                     " needs the .venv that scripts/setup.sh makes (or set ATTNSIM_PYTHON)");
  // The tool runs this very binary (attnsim search runs its points with it).
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) setenv("ATTNSIM", self.c_str(), 1);
  std::vector<char*> args = {const_cast<char*>(python.c_str()), const_cast<char*>(path.c_str())};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  execv(python.c_str(), args.data());
  throw std::runtime_error("cannot start " + python + ": " + std::strerror(errno));
}

}  // namespace attnsim
