#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hearth/result.hpp"

namespace hearth::server {

/// One parsed HTTP request, free of any HTTP library's types.
struct http_request {
  std::string method;
  /// The request target as sent, e.g. "/v1/events?from=10".
  std::string target;
  /// The target's path and query parts.
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// The value of header `name` (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

/// What to answer.
struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Sends the answer to one request; callable once, from any thread.
using respond_fn = std::function<void(http_response)>;

/// Handles one request. It must not block: it answers through `respond`,
/// later and from any thread if it likes.
using handler_fn = std::function<void(http_request, respond_fn)>;

/// How the HTTP server listens and what it bounds.
struct http_options {
  /// Address to bind.
  // Default: "127.0.0.1"
  std::string address = "127.0.0.1";
  /// Port to bind; 0 picks a free one (see `http_server::port`).
  // Default: 4327
  std::uint16_t port = 4327;
  /// Threads running the network I/O.
  // Default: 1
  std::size_t io_threads = 1;
  /// Largest request body accepted; larger ones get 413.
  // Default: 1 MiB
  std::size_t max_body_bytes = 1u << 20;
  /// Largest request head (start line plus headers) accepted; larger get 431.
  // Default: 16 KiB
  std::size_t max_header_bytes = 16u << 10;
  /// Time to receive a whole request, and to answer it, before the connection
  /// is closed.
  // Default: 30 s
  std::chrono::milliseconds request_timeout{30'000};
  /// How long `stop` waits for requests in flight.
  // Default: 10 s
  std::chrono::milliseconds shutdown_grace{10'000};
};

enum class errc {
  /// The address does not parse.
  invalid_address,
  /// The address cannot be bound (in use, not permitted).
  bind_failed,
};

std::string_view to_string(errc code);

struct error {
  errc code = errc::bind_failed;
  std::string message;
};

template <class T>
using result = basic_result<T, error>;

/// Parses one whole request from `raw` with the bounds of `options`, exactly
/// as the server does (the fuzz target drives this); nullopt and `error` if
/// it is not one.
std::optional<http_request>
parse_request(std::string_view raw, const http_options& options, std::string& error);

/// An HTTP/1.1 server with keep-alive, bounded requests and graceful stop.
class http_server {
public:
  virtual ~http_server();

  /// Binds and starts serving with `handler`.
  static result<std::unique_ptr<http_server>> start(const http_options& options,
                                                    handler_fn handler);

  /// The port actually bound.
  virtual std::uint16_t port() const = 0;

  /// Stops accepting, lets requests in flight finish (up to the grace
  /// period), closes idle connections and joins the I/O threads. Idempotent.
  virtual void stop() = 0;
};

} // namespace hearth::server
