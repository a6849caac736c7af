// hearthd as an operator runs it: a real process, real HTTP on loopback.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "support/http_client.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

using namespace hearth::testing;

namespace {

/// A hearthd child process; stderr goes to a file for inspection.
struct daemon_process {
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::string log_path;

  daemon_process(const std::string& data_dir, const std::string& log) : log_path(log) {
    port = free_port();
    pid = fork();
    if (pid == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
      const std::string listen = "127.0.0.1:" + std::to_string(port);
      const std::string path = binary("hearthd");
      execl(path.c_str(), path.c_str(), "--listen", listen.c_str(), "--data-dir",
            data_dir.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }

  /// Waits for the process to exit; answers its exit code (-1 if signalled).
  int wait_exit() {
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string log() const {
    std::ifstream in(log_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  ~daemon_process() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

} // namespace

TEST_CASE("hearthd answers /healthz on a fresh data directory and stops on SIGTERM") {
  temp_dir dir;
  daemon_process daemon(dir.str("data"), dir.str("hearthd.log"));
  REQUIRE(wait_for_listener(daemon.port, std::chrono::seconds(20)));
  auto health = http_request(daemon.port, "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body.find(R"("status":"ok")") != std::string::npos);
  CHECK(std::filesystem::exists(dir.str("data/journal/CURRENT")));

  auto unknown = http_request(daemon.port, "GET", "/v1/nothing");
  CHECK(unknown.status == 404);
  CHECK(unknown.body.find(R"("code":"not_found")") != std::string::npos);

  kill(daemon.pid, SIGTERM);
  CHECK(daemon.wait_exit() == 0);
  CHECK(daemon.log().find("hearthd stopped") != std::string::npos);
}

TEST_CASE("hearthd bounds requests: oversized bodies get 413, garbage gets 400") {
  temp_dir dir;
  daemon_process daemon(dir.str("data"), dir.str("hearthd.log"));
  REQUIRE(wait_for_listener(daemon.port, std::chrono::seconds(20)));
  auto big = http_request(daemon.port, "POST", "/v1/template-warm-pools",
                          std::string(2u << 20, 'x'));
  CHECK(big.status == 413);
  auto garbage = send_raw(daemon.port, "NOT HTTP AT ALL\r\n\r\n");
  CHECK(garbage.status == 400);
  // The daemon is still serving.
  CHECK(http_request(daemon.port, "GET", "/healthz").status == 200);
}

TEST_CASE("a second hearthd on the same data directory exits with a clear message") {
  temp_dir dir;
  daemon_process first(dir.str("data"), dir.str("first.log"));
  REQUIRE(wait_for_listener(first.port, std::chrono::seconds(20)));
  daemon_process second(dir.str("data"), dir.str("second.log"));
  CHECK(second.wait_exit() == 1);
  CHECK(second.log().find("another process holds the data directory") != std::string::npos);
  CHECK(http_request(first.port, "GET", "/healthz").status == 200);
}
