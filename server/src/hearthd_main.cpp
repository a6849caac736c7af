// hearthd: the hearth daemon. Opens the data directory and serves the HTTP API.
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "hearth/server/http_server.hpp"
#include "hearth/store/storage.hpp"

namespace {

struct listen_address {
  std::string host;
  std::uint16_t port = 0;
};

bool parse_listen(const std::string& text, listen_address& out) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return false;
  try {
    const unsigned long port = std::stoul(text.substr(colon + 1));
    if (port > 65535)
      return false;
    out.host = text.substr(0, colon);
    out.port = static_cast<std::uint16_t>(port);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"hearthd: warm pools of QEMU microVM sandboxes"};
  std::string listen = "127.0.0.1:4327";
  std::string data_dir = "data";
  app.add_option("--listen", listen, "address:port to serve the HTTP API on")
    ->capture_default_str();
  app.add_option("--data-dir", data_dir, "directory holding the journal")
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  listen_address address;
  if (!parse_listen(listen, address)) {
    spdlog::error("--listen {} is not of the form address:port", listen);
    return 2;
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto storage = hearth::store::open_rocksdb_storage(data_dir + "/journal");
  if (!storage) {
    spdlog::error("{}", storage.error().message);
    return 1;
  }
  auto& journal = (*storage)->events();

  hearth::server::http_options options;
  options.address = address.host;
  options.port = address.port;
  auto server = hearth::server::http_server::start(
    options, [&journal](hearth::server::http_request request,
                        hearth::server::respond_fn respond) {
      hearth::server::http_response response;
      if (request.path == "/healthz" && request.method == "GET") {
        auto last = journal.last_position();
        response.body = std::string(R"({"status":"ok","journal":{"last_position":)")
                        + std::to_string(last ? *last : 0) + "}}";
      } else {
        response.status = 404;
        response.body = R"({"error":{"code":"not_found","message":"no route for )"
                        + request.method + " " + request.path + R"("}})";
      }
      respond(std::move(response));
    });
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  spdlog::info("hearthd serving http://{}:{} with data in {}", address.host,
               (*server)->port(), std::filesystem::absolute(data_dir).string());

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}, finishing requests in flight", strsignal(received));
  (*server)->stop();
  spdlog::info("hearthd stopped");
  return 0;
}
