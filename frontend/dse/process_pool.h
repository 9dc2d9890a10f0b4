#pragma once
// Runs child processes, at most N at a time (sweep points: SystemC elaborates
// once per process, and a crash must not take the sweep down). Each child has
// its stderr in a file, an optional timeout (then it is killed), and dies
// with its parent (PR_SET_PDEATHSIG), so killing a sweep leaves no strays.
#include <functional>
#include <string>
#include <vector>

namespace attnsim {

struct ChildJob {
  std::vector<std::string> argv;  // argv[0]: the executable's path
  std::string stderr_file;        // the child's stderr (stdout goes to /dev/null)
  double timeout_s = 0;           // 0: none
  // Jobs of one non-empty group: the first (in order) finishes before the
  // others start, so they can reuse what it cached. Other jobs fill the slots.
  std::string group;
};

struct ChildOutcome {
  bool timed_out = false;
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  double wall_s = 0;
  int pid = 0;  // to find what it left behind (temporary files named after it)
  bool ok() const { return !timed_out && signal == 0 && exit_code == 0; }
  // "exit code 2", "killed by signal 11 (Segmentation fault)", "timeout after 5 s (killed)".
  std::string describe(double timeout_s) const;
};

// Runs `jobs` with at most `workers` at once; calls done(index, outcome) in
// the calling thread as each ends.
void run_jobs(const std::vector<ChildJob>& jobs, int workers,
              const std::function<void(size_t, const ChildOutcome&)>& done);

// The last `lines` lines of a text file (at most `max_chars` characters), "" if none.
std::string tail_lines(const std::string& file, int lines, size_t max_chars = 2000);

// The path of the running executable (/proc/self/exe).
std::string self_executable();

}  // namespace attnsim
