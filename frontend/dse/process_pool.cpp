#include "dse/process_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace attnsim {

namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  size_t job;
  pid_t pid;
  Clock::time_point start;
  bool killed_for_timeout = false;
};

// fork + exec; the child writes why exec failed into its stderr file and exits 127.
pid_t spawn(const ChildJob& job) {
  std::vector<char*> argv;
  for (const auto& a : job.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid > 0) return pid;
  // Child: only async-signal-safe calls until exec.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before prctl
  const int err = open(job.stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int null = open("/dev/null", O_RDWR);
  if (err >= 0) dup2(err, STDERR_FILENO);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
  }
  execv(argv[0], argv.data());
  const char* msg = "cannot execute the child: ";
  (void)!write(STDERR_FILENO, msg, std::strlen(msg));
  (void)!write(STDERR_FILENO, argv[0], std::strlen(argv[0]));
  (void)!write(STDERR_FILENO, "\n", 1);
  _exit(127);
}

}  // namespace

std::string ChildOutcome::describe(double timeout_s) const {
  std::ostringstream s;
  if (timed_out) s << "timeout after " << timeout_s << " s (killed)";
  else if (signal) s << "killed by signal " << signal << " (" << strsignal(signal) << ")";
  else s << "exit code " << exit_code;
  return s.str();
}

void run_jobs(const std::vector<ChildJob>& jobs, int workers,
              const std::function<void(size_t, const ChildOutcome&)>& done) {
  if (workers < 1) workers = 1;
  // The first job of each group leads; the rest wait until it has ended.
  std::map<std::string, size_t> leader;
  for (size_t i = 0; i < jobs.size(); ++i)
    if (!jobs[i].group.empty()) leader.emplace(jobs[i].group, i);
  std::set<std::string> led;  // groups whose leader has ended
  std::vector<bool> started(jobs.size(), false);
  std::vector<Running> running;
  size_t next = 0, finished = 0;  // next: the first job not yet started
  while (finished < jobs.size()) {
    // Start what may start, in order.
    for (size_t i = next; i < jobs.size() && static_cast<int>(running.size()) < workers; ++i) {
      if (started[i]) continue;
      const auto& g = jobs[i].group;
      if (!g.empty() && leader.at(g) != i && !led.count(g)) continue;
      running.push_back({i, spawn(jobs[i]), Clock::now()});
      started[i] = true;
    }
    while (next < jobs.size() && started[next]) ++next;
    // Reap, and kill what ran out of time.
    bool reaped = false;
    for (size_t r = 0; r < running.size();) {
      Running& run = running[r];
      int status = 0;
      const pid_t w = waitpid(run.pid, &status, WNOHANG);
      const double elapsed = std::chrono::duration<double>(Clock::now() - run.start).count();
      if (w == run.pid) {
        ChildOutcome o;
        o.wall_s = elapsed;
        o.pid = run.pid;
        o.timed_out = run.killed_for_timeout;
        if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
        const size_t job = run.job;
        if (!jobs[job].group.empty() && leader.at(jobs[job].group) == job) led.insert(jobs[job].group);
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(r));
        ++finished;
        reaped = true;
        done(job, o);
        continue;
      }
      if (jobs[run.job].timeout_s > 0 && elapsed > jobs[run.job].timeout_s && !run.killed_for_timeout) {
        kill(run.pid, SIGKILL);
        run.killed_for_timeout = true;
      }
      ++r;
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string tail_lines(const std::string& file, int lines, size_t max_chars) {
  std::ifstream in(file);
  if (!in) return "";
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0; i < all.size(); ++i)
    out += (out.empty() ? "" : "\n") + all[i];
  if (out.size() > max_chars) out = "..." + out.substr(out.size() - max_chars);
  return out;
}

std::string self_executable() {
  std::vector<char> buf(4096);
  const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) throw std::runtime_error("cannot find the running executable (/proc/self/exe)");
  return std::string(buf.data(), static_cast<size_t>(n));
}

}  // namespace attnsim
