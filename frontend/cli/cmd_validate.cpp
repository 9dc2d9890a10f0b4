#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "report/report.h"
#include "util/json_reader.h"
#include "util/output_paths.h"
#include "validate/validate.h"

namespace attnsim {

int cmd_validate(int argc, char** argv) {
  po::options_description desc("attnsim validate options");
  std::string sim, gpu, out;
  desc.add_options()
      ("help,h", "print this help")
      ("sim", po::value(&sim)->required(), "directory written by attnsim run --dump (positional 1)")
      ("gpu", po::value(&gpu)->required(), "directory written by gpu_ref for the same dump (positional 2)")
      ("out,o", po::value(&out), "also write the comparison as JSON")
      ("quiet,q", "print nothing; the exit code tells");
  po::positional_options_description pos;
  pos.add("sim", 1).add("gpu", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "usage: attnsim validate SIM_DIR GPU_DIR [--out result.json]\n"
                     "exit 0: every tensor within tolerance; 1: some tensor is not; 2: bad input",
                     desc, &pos, vm))
    return 0;
  if (!out.empty())  // replaces only an earlier result, never an input
    check_output_file(out, "--out", {sim, gpu}, [](const std::string& f) {
      try {
        const nlohmann::json j = JsonReader::load_file(f);
        return j.is_object() && j.value("format", "") == "attnsim-validate";
      } catch (const InputError&) {
        return false;
      }
    }, "an attnsim validate result");
  const Validation v = validate_dirs(sim, gpu);
  if (!out.empty()) write_json_atomic(out, v.to_json());
  if (!vm.count("quiet")) std::cout << v.table();
  return v.pass() ? 0 : 1;
}

}  // namespace attnsim
