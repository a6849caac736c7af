// hearth: the command-line client of hearthd, and the journal replay tool.
#include <CLI/CLI.hpp>

#include "api_commands.hpp"
#include "replay_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"hearth: warm pools of QEMU microVM sandboxes"};
  app.require_subcommand(1);
  // Global flags (--json, --server, ...) may follow a sub-command.
  app.fallthrough();
  int exit_code = 0;
  hearth::tools::add_api_commands(app, exit_code);
  hearth::tools::add_replay_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // Usage errors are invalid input (2); --help is a success.
    return code == 0 ? 0 : 2;
  }
  return exit_code;
}
