#pragma once
// Subcommands of the attnsim CLI. Each returns the process exit code.
namespace attnsim {
int cmd_run(int argc, char** argv);
int cmd_compare(int argc, char** argv);
int cmd_validate(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
// attnsim report / search: Python tools (matplotlib, Optuna) of the source
// tree, run with the environment scripts/setup.sh makes; `script` is relative
// to the tree's scripts/ folder. Returns only when the tool cannot be started.
int run_python_tool(const char* command, const char* script, int argc, char** argv);
}  // namespace attnsim
