// The guest agent and its protocol, on the host: the agent serves a socket
// (--stdio) exactly as it serves its virtio-serial port in a guest.

#include <chrono>
#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "hearth/guest/protocol.hpp"

using json = nlohmann::json;
using namespace hearth::guest;

extern char** environ;

namespace {

/// hearth-agent --stdio on one end of a socket pair.
class agent_process {
public:
  agent_process() {
    char dir_template[] = "/tmp/hearth-agent-XXXXXX";
    dir_ = mkdtemp(dir_template);
    setenv("HEARTH_AGENT_START_LOG", (dir_ + "/start.log").c_str(), 1);
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 0);
    const std::string agent = std::string(HEARTH_BIN_DIR) + "/hearth-agent";
    char* argv[] = {const_cast<char*>(agent.c_str()), const_cast<char*>("--stdio"),
                    nullptr};
    REQUIRE(posix_spawn(&pid_, agent.c_str(), &actions, nullptr, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    fd_ = fds[0];
  }
  ~agent_process() {
    close(fd_);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }

  const std::string& dir() const { return dir_; }

  void send_raw(const std::string& bytes) {
    REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
  }

  /// The next response frame, or an empty frame id 0xffffffff on timeout.
  frame receive(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      frame out;
      const auto status = take_frame(buffer_, out);
      if (status == parse_status::ok)
        return out;
      REQUIRE(status == parse_status::need_more);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1)
        return frame{frame_kind::response, 0xffffffff, ""};
      char chunk[65536];
      const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0)
        return frame{frame_kind::response, 0xffffffff, ""};
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  json call(const json& request, std::uint32_t id = 7) {
    send_raw(encode_frame(frame_kind::request, id, request.dump()));
    const auto reply = receive();
    REQUIRE(reply.id == id);
    CHECK(reply.kind == frame_kind::response);
    return json::parse(reply.payload);
  }

private:
  std::string dir_;
  pid_t pid_ = 0;
  int fd_ = -1;
  std::string buffer_;
};

} // namespace

TEST_CASE("frames round-trip, and bad headers are named") {
  std::string buffer = encode_frame(frame_kind::request, 42, R"({"op":"ping"})");
  const std::string whole = buffer;
  frame f;
  std::string partial = whole.substr(0, 10);
  CHECK(take_frame(partial, f) == parse_status::need_more);
  CHECK(take_frame(buffer, f) == parse_status::ok);
  CHECK(f.id == 42);
  CHECK(f.payload == R"({"op":"ping"})");
  CHECK(buffer.empty());

  std::string bad_magic = "XGA1" + whole.substr(4);
  CHECK(take_frame(bad_magic, f) == parse_status::bad_magic);
  std::string bad_version = whole;
  bad_version[4] = 9;
  CHECK(take_frame(bad_version, f) == parse_status::bad_version);
  std::string bad_kind = whole;
  bad_kind[5] = 3;
  CHECK(take_frame(bad_kind, f) == parse_status::bad_kind);
  std::string too_large = whole;
  too_large[15] = 0x7f; // length ~2 GiB
  CHECK(take_frame(too_large, f) == parse_status::too_large);

  std::string decoded;
  CHECK(base64_decode(base64_encode("hearth\x01\xff"), decoded));
  CHECK(decoded == "hearth\x01\xff");
  CHECK_FALSE(base64_decode("not*base64", decoded));
}

TEST_CASE("the agent answers ping and runs commands with env and workdir") {
  agent_process agent;
  const auto pong = agent.call({{"op", "ping"}});
  CHECK(pong["ok"] == true);
  CHECK(pong["version"] == protocol_version);

  const auto ran = agent.call({{"op", "exec"},
                               {"cmd", "echo \"$GREETING from $(pwd)\"; exit 4"},
                               {"env", {{"GREETING", "hello"}}},
                               {"cwd", agent.dir()}});
  CHECK(ran["ok"] == true);
  CHECK(ran["exit_code"] == 4);
  CHECK(ran["output"] == "hello from " + agent.dir() + "\n");

  const auto slow =
      agent.call({{"op", "exec"}, {"cmd", "sleep 30"}, {"timeout_ms", 200}});
  CHECK(slow["timed_out"] == true);

  const auto wrote = agent.call({{"op", "write_file"},
                                 {"path", agent.dir() + "/sub/file.txt"},
                                 {"content_b64", base64_encode("contents\n")},
                                 {"mode", 0600}});
  CHECK(wrote["ok"] == true);
  std::ifstream in(agent.dir() + "/sub/file.txt");
  std::string line;
  std::getline(in, line);
  CHECK(line == "contents");
}

TEST_CASE("the agent rejects bad frames and bad requests and keeps serving") {
  agent_process agent;
  agent.send_raw("GET / HTTP/1.1\r\n\r\n");
  const auto rejected = agent.receive();
  CHECK(rejected.id == 0);
  CHECK(json::parse(rejected.payload)["error"] == "bad frame: bad magic");

  std::string oversized = encode_frame(frame_kind::request, 5, "{}");
  oversized[15] = 0x7f;
  agent.send_raw(oversized);
  CHECK(json::parse(agent.receive().payload)["error"] == "bad frame: payload too large");

  agent.send_raw(encode_frame(frame_kind::request, 6, "not json"));
  const auto not_json = agent.receive();
  CHECK(not_json.id == 6);
  CHECK(json::parse(not_json.payload)["ok"] == false);

  const auto wrong_type = agent.call({{"op", "exec"}, {"cmd", 12}}, 8);
  CHECK(wrong_type["ok"] == false);
  CHECK(wrong_type["error"].get<std::string>().find("bad request") == 0);

  const auto unknown = agent.call({{"op", "format_disk"}}, 9);
  CHECK(unknown["error"] == "unknown op 'format_disk'");

  CHECK(agent.call({{"op", "ping"}}, 10)["ok"] == true);
}

TEST_CASE("readiness reports a start command that exits, with its code and output") {
  agent_process agent;
  CHECK(agent.call({{"op", "start"}, {"cmd", "echo missing config >&2; exit 3"}})["ok"] ==
        true);
  const auto ready = agent.call(
      {{"op", "ready"}, {"kind", "wait_for_port"}, {"port", 1}, {"timeout_ms", 5000}});
  CHECK(ready["ok"] == false);
  CHECK(ready["exit_code"] == 3);
  CHECK(ready["output"] == "missing config\n");
}

TEST_CASE("wait_for_port passes once something listens and times out otherwise") {
  agent_process agent;
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  const auto closed = agent.call(
      {{"op", "ready"}, {"kind", "wait_for_port"}, {"port", port}, {"timeout_ms", 300}});
  CHECK(closed["ok"] == false);
  CHECK(closed["timed_out"] == true);
  REQUIRE(listen(listener, 4) == 0);
  const auto open = agent.call(
      {{"op", "ready"}, {"kind", "wait_for_port"}, {"port", port}, {"timeout_ms", 3000}});
  CHECK(open["ok"] == true);
  close(listener);
  const auto by_command = agent.call({{"op", "ready"},
                                      {"kind", "wait_for_cmd"},
                                      {"command", "test -d /"},
                                      {"timeout_ms", 3000}});
  CHECK(by_command["ok"] == true);
}

TEST_CASE("wait_for_http passes on a 2xx answer and not on a 5xx one") {
  agent_process agent;
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  REQUIRE(listen(listener, 16) == 0);
  const int port = ntohs(addr.sin_port);
  // A server that fails until /healthz is asked for.
  std::thread server([listener] {
    for (;;) {
      const int client = accept(listener, nullptr, nullptr);
      if (client < 0)
        return;
      char request[1024] = {0};
      const ssize_t n = recv(client, request, sizeof request - 1, 0);
      const bool healthy = n > 0 && std::string(request).rfind("GET /healthz ", 0) == 0;
      const std::string answer =
          healthy ? "HTTP/1.0 200 OK\r\n\r\nok" : "HTTP/1.0 503 Busy\r\n\r\n";
      send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      close(client);
    }
  });
  const auto busy = agent.call({{"op", "ready"},
                                {"kind", "wait_for_http"},
                                {"port", port},
                                {"path", "/"},
                                {"timeout_ms", 300}});
  CHECK(busy["ok"] == false);
  CHECK(busy["timed_out"] == true);
  const auto healthy = agent.call({{"op", "ready"},
                                   {"kind", "wait_for_http"},
                                   {"port", port},
                                   {"path", "/healthz"},
                                   {"timeout_ms", 3000}});
  CHECK(healthy["ok"] == true);
  shutdown(listener, SHUT_RDWR);
  close(listener);
  server.join();
}
