// hearth: the command-line client of hearthd, and the journal replay tool.
#include <CLI/CLI.hpp>

#include "replay_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"hearth: warm pools of QEMU microVM sandboxes"};
  app.require_subcommand(1);
  int exit_code = 0;
  hearth::tools::add_replay_command(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
