#pragma once
// Subcommands of the attnsim CLI. Each returns the process exit code.
namespace attnsim {
int cmd_run(int argc, char** argv);
int cmd_compare(int argc, char** argv);
int cmd_validate(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
}  // namespace attnsim
