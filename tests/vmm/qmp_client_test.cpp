// The QMP client against a scripted QMP server on a unix socket: replies
// matched by id with events interleaved, a QEMU that dies mid-command, one
// that never answers.

#include <chrono>
#include <doctest/doctest.h>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include "io_loop.hpp"
#include "qmp_client.hpp"

using namespace hearth::vmm;
using namespace hearth::vmm::detail;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// Serves one client: sends the greeting, then hands every line it reads to
/// `script`, which writes the answers (or closes).
class fake_qmp {
public:
  using script_fn = std::function<bool(int fd, const json& command)>; // false: hang up

  explicit fake_qmp(script_fn script, bool greet = true) {
    char dir_template[] = "/tmp/hearth-qmp-XXXXXX";
    path_ = std::string(mkdtemp(dir_template)) + "/qmp.sock";
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    REQUIRE(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(listener_, 1) == 0);
    thread_ = std::thread([this, script, greet] {
      const int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0)
        return;
      if (greet)
        say(fd, json{{"QMP", {{"version", {}}, {"capabilities", json::array()}}}});
      std::string buffer;
      char chunk[4096];
      for (;;) {
        const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
          break;
        buffer.append(chunk, static_cast<std::size_t>(n));
        bool open = true;
        for (std::size_t end; open && (end = buffer.find('\n')) != std::string::npos;) {
          const auto command = json::parse(buffer.substr(0, end));
          buffer.erase(0, end + 1);
          open = script(fd, command);
        }
        if (!open)
          break;
      }
      close(fd);
    });
  }
  ~fake_qmp() {
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }

  static void say(int fd, const json& message) {
    const auto line = message.dump() + "\n";
    REQUIRE(send(fd, line.data(), line.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(line.size()));
  }

  const std::string& path() const { return path_; }

private:
  std::string path_;
  int listener_ = -1;
  std::thread thread_;
};

json reply_to(const json& command, json value = json::object()) {
  return {{"return", std::move(value)}, {"id", command["id"]}};
}

} // namespace

TEST_CASE("QMP replies are matched by id while events interleave") {
  fake_qmp server([](int fd, const json& command) {
    if (command["execute"] == "query-status") {
      // An event first, then the reply: the client must tell them apart.
      fake_qmp::say(fd, {{"event", "MIGRATION"}, {"data", {{"status", "completed"}}}});
      fake_qmp::say(fd, reply_to(command, {{"status", "running"}}));
    } else {
      fake_qmp::say(fd, reply_to(command));
    }
    return true;
  });
  io_loop loop(50ms, [] {});
  auto client = qmp_client::connect(loop, server.path(), 2s);
  REQUIRE_MESSAGE(client.has_value(), (client ? "" : client.error().message));
  auto migrated =
      (*client)->expect([](const json& e) { return e["event"] == "MIGRATION"; });
  auto status = (*client)->execute("query-status", json::object(), 2s);
  REQUIRE(status.has_value());
  CHECK((*status)["status"] == "running");
  auto event = migrated->wait_for(2s);
  REQUIRE(event.has_value());
  CHECK((*event)["data"]["status"] == "completed");
}

TEST_CASE("a QEMU that exits mid-command fails the command at once, naming it") {
  fake_qmp server([](int fd, const json& command) {
    if (command["execute"] == "qmp_capabilities") {
      fake_qmp::say(fd, reply_to(command));
      return true;
    }
    return false; // dies without answering
  });
  io_loop loop(50ms, [] {});
  auto client = qmp_client::connect(loop, server.path(), 2s);
  REQUIRE(client.has_value());
  const auto started = std::chrono::steady_clock::now();
  auto result = (*client)->execute("migrate-incoming", json::object(), 10s);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message == "QEMU exited during 'migrate-incoming'");
  CHECK(std::chrono::steady_clock::now() - started < 5s); // not the 10 s timeout
  CHECK((*client)->closed());
  auto after = (*client)->execute("cont", json::object(), 1s);
  REQUIRE_FALSE(after.has_value());
  CHECK(after.error().message == "QEMU exited before 'cont'");
}

TEST_CASE("a command that gets no reply times out with the command's name") {
  fake_qmp server([](int fd, const json& command) {
    if (command["execute"] == "qmp_capabilities")
      fake_qmp::say(fd, reply_to(command));
    return true; // everything else: silence
  });
  io_loop loop(50ms, [] {});
  auto client = qmp_client::connect(loop, server.path(), 2s);
  REQUIRE(client.has_value());
  auto result = (*client)->execute("stop", json::object(), 200ms);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message == "QMP 'stop' got no reply within 200 ms");
}

TEST_CASE("a QMP error reply is an error value with QEMU's description") {
  fake_qmp server([](int fd, const json& command) {
    if (command["execute"] == "qmp_capabilities")
      fake_qmp::say(fd, reply_to(command));
    else
      fake_qmp::say(fd,
                    {{"error", {{"class", "GenericError"}, {"desc", "no such device"}}},
                     {"id", command["id"]}});
    return true;
  });
  io_loop loop(50ms, [] {});
  auto client = qmp_client::connect(loop, server.path(), 2s);
  REQUIRE(client.has_value());
  auto result = (*client)->execute("device_del", {{"id", "x"}}, 2s);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message == "QMP 'device_del' failed: no such device");
}

TEST_CASE("a socket that never greets is not a QMP connection") {
  fake_qmp server([](int, const json&) { return true; }, false);
  io_loop loop(50ms, [] {});
  auto client = qmp_client::connect(loop, server.path(), 300ms);
  REQUIRE_FALSE(client.has_value());
  CHECK(client.error().message.find("no QMP greeting") != std::string::npos);
}
