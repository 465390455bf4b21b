// `cuae`: the command-line front end. Every failure, whether a bad flag or an error deep in the
// library, ends as one line "cuae <command>: <message>" on stderr and exit status 1 (2 for usage
// errors), never as a crash or an uncaught exception.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include "cli/commands.h"
#include "cuae/config.h"

namespace {

// The subcommand being run, for the message prefix ("cuae train: ...").
std::string command_name(const CLI::App& app) {
  std::string name = "cuae";
  for (const CLI::App* sub : app.get_subcommands()) name += " " + sub->get_name();
  return name;
}

// CLI11 messages can span lines (e.g. lists of extras); the contract is one line.
std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cuae: train autoencoders on the CPU or a CUDA GPU, and use them on data"};
  app.require_subcommand(1, 1);
  app.set_help_all_flag("--help-all", "Print help for every command");
  app.set_version_flag("--version", std::string("cuae ") + CUAE_VERSION + " (backends: " + cuae::cli::backends_built() + ")",
                       "Print the version and the backends built, and exit");
  app.footer(
      "Exit status: 0 on success; 1 for an error in the data, files, shapes or devices; 2 for a usage error (an\n"
      "unknown command or flag, a flag value of the wrong kind); 130 or 143 when SIGINT or SIGTERM stopped\n"
      "`cuae train`, after it saved a checkpoint.");
  // A flag given twice takes its last value, as in most Unix tools (e.g. appending to a saved command).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cuae::cli::add_train_command(app);
  cuae::cli::add_eval_command(app);
  cuae::cli::add_encode_command(app);
  cuae::cli::add_reconstruct_command(app);
  cuae::cli::add_plot_command(app);
  cuae::cli::add_info_command(app);
  cuae::cli::add_bench_command(app);

  // CLI11 would say "A subcommand is required" for a typo; name the word and the choices instead.
  if (argc > 1 && argv[1][0] != '-') {
    const CLI::App& registry = app;  // the const overload: takes a filter over const App*
    bool known = false;
    std::string names;
    for (const CLI::App* sub : registry.get_subcommands(std::function<bool(const CLI::App*)>{})) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      known = known || sub->get_name() == argv[1];
    }
    if (!known) {
      std::fprintf(stderr, "cuae: unknown command '%s' (commands: %s)\n", argv[1], names.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const cuae::cli::ExitStatus& e) {
    return e.code;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", command_name(app).c_str(), one_line(e.what()).c_str());
    return 2;
  } catch (const cuae::cli::UsageError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", command_name(app).c_str(), one_line(e.what()).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", command_name(app).c_str(), one_line(e.what()).c_str());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "%s: unknown error\n", command_name(app).c_str());
    return 1;
  }
}
