#pragma once

#include <CLI/CLI.hpp>

namespace hearth::tools {

/// Adds `hearth replay ...`: read-only inspection of a journal.
void add_replay_command(CLI::App& app, int& exit_code);

} // namespace hearth::tools
