#pragma once

#include <CLI/CLI.hpp>

namespace hearth::tools {

/// Adds `template`, `template warm-pool`, `sandbox` and `events` (the HTTP
/// API's client) and the global flags --server, --key, --key-file and --json.
void add_api_commands(CLI::App& app, int& exit_code);

} // namespace hearth::tools
