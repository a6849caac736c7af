#pragma once

// A tiny blocking HTTP/1.1 client for tests: one request per connection.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace hearth::testing {

struct http_reply {
  int status = 0; // 0: no connection
  std::string body;
  std::string head;
};

inline int connect_loopback(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/// Sends `raw` as is and reads the answer until the server closes.
inline http_reply send_raw(std::uint16_t port, const std::string& raw) {
  http_reply reply;
  const int fd = connect_loopback(port);
  if (fd < 0)
    return reply;
  std::size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t n = send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buffer[8192];
  ssize_t got;
  while ((got = recv(fd, buffer, sizeof(buffer), 0)) > 0)
    response.append(buffer, static_cast<std::size_t>(got));
  close(fd);
  const auto head_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos)
    return reply;
  reply.status = std::stoi(response.substr(9, 3));
  reply.head = response.substr(0, head_end);
  reply.body = response.substr(head_end + 4);
  return reply;
}

inline http_reply http_request(std::uint16_t port, const std::string& method,
                               const std::string& target, const std::string& body = "",
                               const std::vector<std::string>& headers = {}) {
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                    "Connection: close\r\n";
  for (const auto& header : headers)
    raw += header + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    raw += "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n";
  raw += "\r\n" + body;
  return send_raw(port, raw);
}

/// A port that was free a moment ago.
inline std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

} // namespace hearth::testing
