#pragma once
// A progress bar with ETA on stderr, only when stderr is a terminal and the
// user did not ask for --quiet.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace attnsim {

class ProgressBar {
 public:
  ProgressBar(std::string what, bool quiet) : what_(std::move(what)), enabled_(!quiet && isatty(STDERR_FILENO)) {}
  ~ProgressBar() { finish(); }
  // Ends the bar's line (before a summary is printed).
  void finish() {
    if (enabled_ && drawn_) std::fputc('\n', stderr);
    drawn_ = false;
  }
  void update(int done, int total) {
    if (!enabled_ || total <= 0) return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double eta = done ? elapsed * (total - done) / done : 0;
    const int width = 30, filled = width * done / total;
    std::fprintf(stderr, "\r%s [%s%s] %d/%d  %.1fs elapsed, ETA %.1fs ", what_.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), done, total, elapsed,
                 eta);
    std::fflush(stderr);
    drawn_ = true;
  }

 private:
  std::string what_;
  bool enabled_, drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace attnsim
