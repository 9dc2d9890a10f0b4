// Reports and summaries are written whole or not at all: a write that fails
// part-way (here: a file-size limit, as a full disk) leaves the earlier file
// untouched and no temporary behind, and is an error naming the file.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "report/report.h"
#include "scratch_dir.h"
#include "util/error.h"

TEST(AtomicWrite, AFailedWriteKeepsTheEarlierFileAndLeavesNoTemporary) {
  namespace fs = std::filesystem;
  const std::string dir = attnsim_test::scratch_dir(), path = dir + "/summary.csv";
  attnsim::write_text_atomic(path, "earlier,summary\n");
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  rlimit small = old;
  small.rlim_cur = 256;  // bytes: the text below is larger
  auto* previous = std::signal(SIGXFSZ, SIG_IGN);  // writes past the limit then fail with EFBIG
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error;
  try {
    attnsim::write_text_atomic(path, std::string(500, 'x'));  // within the stream buffer: fails only at close
  } catch (const attnsim::InputError& e) {
    error = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  EXPECT_NE(error.find(path + ": write failed"), std::string::npos) << error;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "earlier,summary\n");
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().filename(), "summary.csv");
}
