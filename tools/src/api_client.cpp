#include "api_client.hpp"

#include <cstring>
#include <iostream>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace hearth::tools {

api_client::api_client(std::string server, std::string key,
                       std::chrono::milliseconds timeout)
    : server_(std::move(server))
    , key_(std::move(key))
    , timeout_(timeout) {
  std::string rest = server_;
  const std::string scheme = "http://";
  if (rest.compare(0, scheme.size(), scheme) == 0)
    rest = rest.substr(scheme.size());
  if (auto slash = rest.find('/'); slash != std::string::npos)
    rest = rest.substr(0, slash);
  const auto colon = rest.rfind(':');
  host_ = colon == std::string::npos ? rest : rest.substr(0, colon);
  port_ = colon == std::string::npos ? "80" : rest.substr(colon + 1);
}

namespace {

int connect_to(const std::string& host, const std::string& port, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (auto* a = found; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0)
      continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
      break;
    error = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  return fd;
}

} // namespace

api_reply api_client::call(const std::string& method, const std::string& path,
                           const nlohmann::json& body) const {
  api_reply reply;
  std::string error;
  const int fd = connect_to(host_, port_, error);
  if (fd < 0) {
    reply.transport_error = "cannot reach hearthd at " + server_ + ": " + error;
    return reply;
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

  const std::string payload = body.is_null() ? std::string() : body.dump();
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host_ + ":" +
                        port_ + "\r\nConnection: close\r\nAccept: application/json\r\n";
  if (!key_.empty())
    request += "Authorization: Bearer " + key_ + "\r\n";
  if (!payload.empty())
    request += "Content-Type: application/json\r\n";
  request += "Content-Length: " + std::to_string(payload.size()) + "\r\n\r\n" + payload;

  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      reply.transport_error =
          "cannot send to hearthd at " + server_ + ": " + std::strerror(errno);
      close(fd);
      return reply;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buffer[16384];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0) {
      reply.transport_error =
          "no answer from hearthd at " + server_ + ": " + std::strerror(errno);
      close(fd);
      return reply;
    }
    if (n == 0)
      break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  const auto head_end = response.find("\r\n\r\n");
  if (response.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos) {
    reply.transport_error =
        "hearthd at " + server_ + " answered something that is not HTTP";
    return reply;
  }
  reply.status = std::atoi(response.c_str() + 9);
  reply.body = response.substr(head_end + 4);
  reply.json = nlohmann::json::parse(reply.body, nullptr, false);
  if (reply.json.is_discarded())
    reply.json = nullptr;
  return reply;
}

int exit_code_of(const api_reply& reply) {
  if (reply.status == 0)
    return exit_unreachable;
  if (reply.ok())
    return exit_ok;
  switch (reply.status) {
  case 400:
  case 405:
  case 413:
  case 431:
    return exit_invalid;
  case 401:
    return exit_unauthenticated;
  case 404:
    return exit_not_found;
  case 409:
  case 429:
  case 503:
    return exit_unavailable;
  default:
    return exit_failed;
  }
}

int report_failure(const api_reply& reply) {
  if (reply.status == 0) {
    std::cerr << "hearth: " << reply.transport_error << "\n";
    return exit_unreachable;
  }
  const auto& error = reply.json.is_object() ? reply.json.value("error", nlohmann::json())
                                             : nlohmann::json();
  if (error.is_object()) {
    std::cerr << "hearth: " << error.value("code", "error") << ": "
              << error.value("message", "");
    if (error.contains("field") && error["field"].is_string() &&
        !error["field"].get<std::string>().empty())
      std::cerr << " (field " << error["field"].get<std::string>() << ")";
    std::cerr << "\n";
    if (error.contains("details") && error["details"].size() > 1)
      for (const auto& detail : error["details"])
        std::cerr << "  " << detail.value("field", "") << ": "
                  << detail.value("message", "") << "\n";
  } else {
    std::cerr << "hearth: HTTP " << reply.status << ": " << reply.body << "\n";
  }
  return exit_code_of(reply);
}

} // namespace hearth::tools
