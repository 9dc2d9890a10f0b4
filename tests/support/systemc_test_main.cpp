// Test main for binaries that link SystemC: libsystemc defines main() and
// calls sc_main, so GoogleTest runs from sc_main. ctest runs one test per
// process (gtest_discover_tests) because SystemC elaborates once per process.
#include <gtest/gtest.h>
#include <systemc>

#include <cstdlib>

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  return sc_core::sc_elab_and_sim(argc, argv);
}

int sc_main(int argc, char** argv) {
  // SystemC errors become exceptions, which fail the test that raised them.
  sc_core::sc_report_handler::set_actions(sc_core::SC_ERROR, sc_core::SC_THROW);
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
