// The HTTP server's own promises, with handlers written for the test.

#include <doctest/doctest.h>
#include <thread>

#include "hearth/server/http_server.hpp"
#include "support/http_client.hpp"

using namespace hearth::server;
using namespace hearth::testing;

namespace {

std::unique_ptr<http_server> serve(handler_fn handler) {
  http_options options;
  options.port = 0;
  auto server = http_server::start(options, std::move(handler));
  REQUIRE(server);
  return std::move(*server);
}

} // namespace

TEST_CASE(
    "a request whose handler drops its answer gets a 500, not a closed connection") {
  auto server = serve([](hearth::server::http_request, respond_fn respond) {
    // Handed on and then lost, as by a component that stopped.
    std::thread([lost = std::move(respond)] {}).join();
  });
  auto reply = hearth::testing::http_request(server->port(), "GET", "/v1/anything");
  CHECK(reply.status == 500);
  CHECK(reply.body.find(R"("code":"internal")") != std::string::npos);
  CHECK(reply.body.find("dropped without an answer") != std::string::npos);
}

TEST_CASE("an answer given later from another thread is sent, and only the first one") {
  std::thread answering;
  auto server =
      serve([&answering](hearth::server::http_request request, respond_fn respond) {
        answering = std::thread([request, respond] {
          http_response first;
          first.body = R"({"path":")" + request.path + R"("})";
          respond(first);
          http_response second;
          second.status = 500;
          respond(second);
        });
      });
  auto reply = hearth::testing::http_request(server->port(), "GET", "/v1/later");
  answering.join();
  CHECK(reply.status == 200);
  CHECK(reply.body == R"({"path":"/v1/later"})");
}
