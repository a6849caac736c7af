#pragma once

// The CLI's client of hearthd's HTTP API: one request per connection, JSON in
// and out, errors as the API states them.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace hearth::tools {

/// The CLI's exit codes (documented in `hearth --help` and the README).
enum exit_code : int {
  exit_ok = 0,
  /// The server failed (5xx) or answered something unreadable.
  exit_failed = 1,
  /// The request was invalid: a bad flag, or the server's invalid_argument.
  exit_invalid = 2,
  exit_not_found = 3,
  /// warm_pool_unavailable, conflict, quota_exceeded, unavailable.
  exit_unavailable = 4,
  exit_unauthenticated = 5,
  exit_unreachable = 6,
  /// `wait` gave up.
  exit_timeout = 7,
};

struct api_reply {
  /// 0 when the server could not be reached.
  int status = 0;
  std::string body;
  /// The body as JSON (null if it is not).
  nlohmann::json json;
  /// Why the server could not be reached.
  std::string transport_error;

  bool ok() const { return status >= 200 && status < 300; }
};

class api_client {
public:
  /// `server`: http://host:port; `key`: the API key (may be empty).
  api_client(std::string server, std::string key,
             std::chrono::milliseconds timeout = std::chrono::seconds(150));

  api_reply call(const std::string& method, const std::string& path,
                 const nlohmann::json& body = nullptr) const;

private:
  std::string server_;
  std::string host_;
  std::string port_;
  std::string key_;
  std::chrono::milliseconds timeout_;
};

/// The exit code for a reply that is not a success.
int exit_code_of(const api_reply& reply);

/// Prints a failed reply's error (message and field) to stderr; answers its
/// exit code.
int report_failure(const api_reply& reply);

} // namespace hearth::tools
