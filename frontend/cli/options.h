#pragma once
// Shared Boost.Program_options handling: --help text and usage errors as
// InputErrors (exit code 2).
#include <boost/program_options.hpp>
#include <iostream>
#include <string>

#include "util/error.h"

namespace attnsim {

namespace po = boost::program_options;

// Parses; returns false when --help was printed.
inline bool parse_options(int argc, char** argv, const std::string& usage, const po::options_description& desc,
                          const po::positional_options_description* positional, po::variables_map& vm) {
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(desc);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n" << desc;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError("", "command line", std::string(e.what()) + " (see --help)");
  }
  return true;
}

}  // namespace attnsim
