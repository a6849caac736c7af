#pragma once

// hearthd's settings: defaults, then an optional TOML file, then flags.

#include <chrono>
#include <string>

#include "hearth/actors/runtime.hpp"
#include "hearth/server/http_server.hpp"

namespace hearth::server {

struct hearthd_config {
  /// address:port of the HTTP API.
  // Default: 127.0.0.1:4327
  std::string listen = "127.0.0.1:4327";
  /// Where the journal, VMs, artifacts and key files live.
  // Default: $HEARTH_DATA_DIR, else ~/.local/share/hearth
  std::string data_dir;
  // Default: info
  std::string log_level = "info";
  /// How long stopping (requests in flight, then the actors) may take before
  /// hearthd exits anyway.
  // Default: 30 s
  std::chrono::milliseconds shutdown_timeout{30'000};
  http_options http;
  runtime_options runtime;
};

/// The default data directory, shared by hearthd and the CLI.
std::string default_data_dir();

/// Reads the TOML file at `path` over `config`. Answers an error message
/// naming the file, line and key, or empty.
std::string load_toml(const std::string& path, hearthd_config& config);

/// Splits "address:port"; false if it does not parse.
bool parse_listen(const std::string& text, std::string& host, std::uint16_t& port);

} // namespace hearth::server
