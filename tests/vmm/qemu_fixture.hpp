#pragma once

// Shared by the tests that boot real VMs (label "vm"): a QEMU host on a fresh
// data directory, synchronous wrappers around the asynchronous driver, and
// an HTTP client for the guests' forwarded ports.

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

#include "hearth/guest/protocol.hpp"
#include "hearth/vmm/qemu_driver.hpp"

namespace hearth::testing {

/// Guest images are cached per machine, as a deployment would; the first VM
/// test on a fresh machine fetches the kernel and busybox with apt.
inline std::string shared_image_dir() {
  const char* env = std::getenv("HEARTH_TEST_IMAGE_DIR");
  return env != nullptr ? env : "/var/tmp/hearth-test-images";
}

/// A fresh directory; artifacts on tmpfs (the fast path's memory files).
struct scratch_dirs {
  std::string data;
  std::string artifacts;

  scratch_dirs() {
    char data_template[] = "/tmp/hearth-vm-XXXXXX";
    data = mkdtemp(data_template);
    char shm_template[] = "/dev/shm/hearth-vm-XXXXXX";
    artifacts = mkdtemp(shm_template);
  }
  ~scratch_dirs() {
    std::error_code ec;
    std::filesystem::remove_all(data, ec);
    std::filesystem::remove_all(artifacts, ec);
  }

  vmm::qemu_options options(bool stop_vms_on_exit = true) const {
    vmm::qemu_options o;
    o.data_dir = data;
    o.artifact_dir = artifacts;
    o.image_dir = shared_image_dir();
    o.stop_vms_on_exit = stop_vms_on_exit;
    return o;
  }
};

struct http_response {
  int status = 0;
  std::string body;
};

/// GET `path` from "host:port"; status 0 when nothing answered in time.
inline http_response
http_get(const std::string& endpoint, const std::string& path,
         std::chrono::milliseconds timeout = std::chrono::seconds(10),
         const std::string& method = "GET", const std::string& body = {},
         const std::string& content_type = {}) {
  http_response out;
  const auto colon = endpoint.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port =
      htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return out;
  }
  std::string request = method + " " + path + " HTTP/1.0\r\nHost: sandbox\r\n";
  if (!content_type.empty())
    request += "Content-Type: " + content_type + "\r\n";
  if (!body.empty() || method == "POST")
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1)
      break;
    char chunk[4096];
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0)
      break;
    response.append(chunk, static_cast<std::size_t>(n));
  }
  close(fd);
  int status = 0;
  if (std::sscanf(response.c_str(), "HTTP/%*d.%*d %d", &status) == 1)
    out.status = status;
  // busybox httpd passes a CGI script's own "\n\n" header end through.
  const auto crlf = response.find("\r\n\r\n");
  const auto lf = response.find("\n\n");
  if (crlf != std::string::npos && (lf == std::string::npos || crlf < lf))
    out.body = response.substr(crlf + 4);
  else if (lf != std::string::npos)
    out.body = response.substr(lf + 2);
  return out;
}

/// Whether process `pid` runs (a zombie does not).
inline bool running_pid(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 && line[close + 2] != 'Z';
}

/// Waits up to `timeout` for process `pid` to exit, woken by the exit
/// itself (a pidfd). A process already gone has exited.
inline bool exits(int pid, std::chrono::milliseconds timeout) {
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0)
    return errno == ESRCH;
  pollfd exit{fd, POLLIN, 0};
  int ready = 0;
  do
    ready = poll(&exit, 1, static_cast<int>(timeout.count()));
  while (ready < 0 && errno == EINTR);
  close(fd);
  return ready > 0;
}

inline vmm::step copy_step(const std::string& dst, const std::string& content,
                           std::uint32_t mode = 0644) {
  vmm::step s;
  s.kind = "copy";
  s.text = dst;
  s.content_b64 = guest::base64_encode(content);
  s.mode = mode;
  return s;
}

inline vmm::step run_step(const std::string& command) {
  vmm::step s;
  s.kind = "run";
  s.text = command;
  return s;
}

/// A CGI script for busybox httpd.
inline std::string cgi(const std::string& body) {
  return "#!/bin/sh\necho 'Content-Type: text/plain'\necho\n" + body + "\n";
}

/// The busybox web guest the VM tests use: httpd on 8080 with CGI scripts
/// that let the host look inside (clock, RNG, files, outbound reach).
inline vmm::build_request web_template(const std::string& build_id) {
  vmm::build_request r;
  r.build_id = build_id;
  r.base = "busybox";
  r.steps.push_back(copy_step("/www/index.html", "hello from hearth\n"));
  r.steps.push_back(copy_step("/www/cgi-bin/time", cgi("date +%s"), 0755));
  r.steps.push_back(copy_step("/www/cgi-bin/rand",
                              cgi("head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'"),
                              0755));
  r.steps.push_back(
      copy_step("/www/cgi-bin/put", cgi("echo mine > /tmp/marker; echo stored"), 0755));
  r.steps.push_back(copy_step("/www/cgi-bin/get",
                              cgi("cat /tmp/marker 2>/dev/null || echo absent"), 0755));
  // probe?ADDRESS:PORT tries to reach a service from inside the guest.
  r.steps.push_back(copy_step("/www/cgi-bin/probe",
                              cgi("if nc -w 2 ${QUERY_STRING%:*} ${QUERY_STRING#*:} "
                                  "</dev/null >/dev/null 2>&1; then echo "
                                  "reached; else echo blocked; fi"),
                              0755));
  r.steps.push_back(run_step("echo built > /www/built.txt"));
  r.start_cmd = "httpd -f -p 8080 -h /www";
  r.ready.kind = "wait_for_port";
  r.ready.port = 8080;
  r.ready.timeout_ms = 20'000;
  return r;
}

} // namespace hearth::testing
