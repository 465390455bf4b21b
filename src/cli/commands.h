// The `cuae` subcommands. Each lives in its own <name>_command.cpp and registers itself on the
// top-level app; main.cpp calls every add_*_command. To add a subcommand, write its file with an
// add_<name>_command function, declare it here and register it in main.cpp. A command reports
// failure by throwing (cuae::Error or std::exception): main turns that into one line on stderr,
// "cuae <command>: <message>", and a non-zero exit status.
#pragma once

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

// Thrown by a command that has reported on its own and must end with a given exit status (e.g. 130
// after SIGINT); main returns `code` and prints nothing more.
struct ExitStatus {
  int code;
};

}  // namespace cuae::cli
