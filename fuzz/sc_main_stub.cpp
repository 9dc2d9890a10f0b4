// libsystemc defines main() and needs sc_main; the fuzzers' main is
// libFuzzer's (linked into the executable, so it is the one that runs) and no
// target elaborates a SystemC module. This only satisfies the link.
extern "C" int sc_main(int, char**) { return 1; }  // as <systemc> declares it
