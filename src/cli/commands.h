// The `cuae` subcommands. Each lives in its own <name>_command.cpp and registers itself on the
// top-level app; main.cpp calls every add_*_command. To add a subcommand, write its file with an
// add_<name>_command function, declare it here and register it in main.cpp. A command reports
// failure by throwing (cuae::Error or std::exception): main turns that into one line on stderr,
// "cuae <command>: <message>", and a non-zero exit status.
#pragma once

#include <string>

#include "cuae/error.h"

namespace CLI {
class App;
}

namespace cuae::cli {

void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_encode_command(CLI::App& app);
void add_reconstruct_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_bench_command(CLI::App& app);

// A command line that cannot mean anything: an unknown flag value, a value of the wrong kind, options
// that exclude each other. main() exits with status 2 for it (1 for every other error).
class UsageError : public Error {
 public:
  using Error::Error;
};

// "cpu, cuda (archs 80,90), cudnn": the backends this build contains (`cuae info`, `cuae --version`).
std::string backends_built();

// Thrown by a command that has reported on its own and must end with a given exit status (e.g. 130
// after SIGINT); main returns `code` and prints nothing more.
struct ExitStatus {
  int code;
};

}  // namespace cuae::cli
