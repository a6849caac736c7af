#pragma once

// hearth's HTTP API: routes each request to one typed call of the embedding
// API and answers with its JSON. It parses and validates; the actors decide.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "hearth/server/http_server.hpp"

namespace hearth {
class runtime;
}

namespace hearth::server {

struct api_options {
  /// Largest page `GET /v1/events` answers.
  // Default: 1000
  std::size_t max_events_page = 1000;
  /// Longest `wait_ms` a GET of a pool or a build may ask for. It must stay
  /// below the server's request timeout and the runtime's call timeout.
  // Default: 10 s
  std::chrono::milliseconds max_wait{10'000};
};

/// Who may call a route.
enum class access {
  /// Anyone (health, metrics, the API document).
  open,
  /// Any tenant key; the route sees that tenant's objects only.
  tenant,
  /// An admin key (tenants, keys, the whole journal).
  admin,
};

/// One route: method and path pattern (`{name}` is one path segment).
struct route_spec {
  std::string method;
  std::string pattern;
  access who = access::tenant;
};

class http_api {
public:
  http_api(runtime& rt, api_options options = {});
  ~http_api();
  http_api(const http_api&) = delete;
  http_api& operator=(const http_api&) = delete;

  /// Answers one request through `respond`, never blocking the caller.
  void handle(http_request request, respond_fn respond);

  /// Every route served, in the order they are matched.
  static const std::vector<route_spec>& routes();

  /// The OpenAPI 3 document served at `/v1/openapi.json`.
  static const std::string& openapi_document();

  class impl;

private:
  std::shared_ptr<impl> impl_;
};

} // namespace hearth::server
