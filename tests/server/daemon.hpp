#pragma once

// hearthd as an operator runs it, for tests: a child process on a loopback
// port, its log in a file, and a JSON client of its API.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "support/http_client.hpp"
#include "support/subprocess.hpp"

namespace hearth::testing {

/// A hearthd child process; its output goes to `log`. It is started as a
/// service manager starts it (systemd's `Type=notify`): `NOTIFY_SOCKET` names
/// a socket of this object's, where hearthd says when it is ready.
struct daemon_process {
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::string data_dir;
  std::string log_path;
  /// What hearthd sent to its service manager, one message each.
  std::vector<std::string> notices;
  int notify_fd = -1;
  std::string notify_name; // "@..." in the abstract namespace

  /// `extra`: more flags, e.g. {"--driver", "simulated"}.
  daemon_process(std::string data, std::string log, std::vector<std::string> extra = {},
                 std::uint16_t listen_port = 0)
      : port(listen_port == 0 ? free_port() : listen_port)
      , data_dir(std::move(data))
      , log_path(std::move(log)) {
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    std::vector<std::string> args{binary("hearthd"), "--listen", listen, "--data-dir",
                                  data_dir};
    args.insert(args.end(), extra.begin(), extra.end());
    open_notify_socket();
    pid = fork();
    if (pid == 0) {
      const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
      setenv("NOTIFY_SOCKET", notify_name.c_str(), 1);
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  /// Waits until hearthd says it serves (`READY=1`), up to `deadline`;
  /// false if it exited first or never said so.
  bool wait_ready(std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
    return wait_notice("READY=1", deadline);
  }

  /// Waits until a message from hearthd holds the line `line`, up to
  /// `deadline` (at once if one already did); false if hearthd exited
  /// first. Sleeps in `poll` on the socket and on the process (a pidfd).
  bool wait_notice(const std::string& line, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    const int process = pid > 0 ? static_cast<int>(syscall(SYS_pidfd_open, pid, 0)) : -1;
    bool found = noticed(line);
    while (!found) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        break;
      pollfd fds[2] = {{notify_fd, POLLIN, 0}, {process, POLLIN, 0}};
      if (poll(fds, process >= 0 ? 2 : 1, static_cast<int>(left.count())) < 0 &&
          errno != EINTR)
        break;
      found = noticed(line);
      if (!found && process >= 0 && (fds[1].revents & POLLIN) != 0) {
        waitpid(pid, nullptr, 0);
        pid = -1;
        break;
      }
    }
    if (process >= 0)
      close(process);
    return found;
  }

  /// Whether a message received so far holds the line `line`.
  bool noticed(const std::string& line) {
    receive_notices();
    for (const auto& notice : notices)
      if (("\n" + notice + "\n").find("\n" + line + "\n") != std::string::npos)
        return true;
    return false;
  }

  /// Waits for the process to exit; answers its exit code (-1 if signalled).
  int wait_exit() {
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void kill_hard() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }

  /// Stops it as an operator would (SIGTERM); answers its exit code.
  int stop() {
    ::kill(pid, SIGTERM);
    return wait_exit();
  }

  std::string log() const {
    std::ifstream in(log_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string key(const std::string& file = "tenant.key") const {
    std::ifstream in(data_dir + "/" + file);
    std::string key;
    std::getline(in, key);
    return key;
  }

  ~daemon_process() {
    kill_hard();
    kill_vms_under(data_dir);
    if (notify_fd >= 0)
      close(notify_fd);
  }

  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  /// hearthd leaves its QEMU processes running for the next start to
  /// re-adopt; a test ends them.
  static void kill_vms_under(const std::string& dir) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const auto name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos)
        continue;
      std::ifstream in(entry.path() / "cmdline");
      std::string cmdline(std::istreambuf_iterator<char>(in), {});
      if (cmdline.rfind("qemu-system", 0) == 0 && cmdline.find(dir) != std::string::npos)
        ::kill(std::stoi(name), SIGKILL);
    }
  }

private:
  void open_notify_socket() {
    static std::atomic<int> made{0};
    notify_name =
        "@hearth-test-" + std::to_string(getpid()) + "-" + std::to_string(made++);
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path + 1, notify_name.data() + 1, notify_name.size() - 1);
    const auto size =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + notify_name.size());
    if (notify_fd < 0 ||
        bind(notify_fd, reinterpret_cast<const sockaddr*>(&address), size) != 0)
      throw std::runtime_error("cannot bind the notify socket " + notify_name + ": " +
                               std::strerror(errno));
  }

  void receive_notices() {
    char buffer[4096];
    for (;;) {
      const auto got = recv(notify_fd, buffer, sizeof buffer, 0);
      if (got < 0)
        return;
      notices.emplace_back(buffer, static_cast<std::size_t>(got));
    }
  }
};

/// The flags that choose the VMs of a test's hearthd: the simulated driver,
/// or (tests built with HEARTH_TEST_REAL_VMS) real QEMU with the shared
/// image cache.
inline std::vector<std::string> driver_flags() {
#ifdef HEARTH_TEST_REAL_VMS
  const char* images = std::getenv("HEARTH_TEST_IMAGE_DIR");
  return {"--driver", "qemu", "--image-dir",
          images != nullptr && *images != '\0' ? images : "/var/tmp/hearth-test-images"};
#else
  return {"--driver", "simulated"};
#endif
}

struct api_reply {
  int status = 0;
  nlohmann::json json;
  std::string body;
};

/// One API call with `key` (empty: no Authorization header).
inline api_reply call_api(std::uint16_t port, const std::string& key,
                          const std::string& method, const std::string& path,
                          const std::string& body = "") {
  std::vector<std::string> headers;
  if (!key.empty())
    headers.push_back("Authorization: Bearer " + key);
  auto raw = http_request(port, method, path, body, headers);
  api_reply out{raw.status, nlohmann::json::parse(raw.body, nullptr, false), raw.body};
  return out;
}

inline api_reply call_api(std::uint16_t port, const std::string& key,
                          const std::string& method, const std::string& path,
                          const nlohmann::json& body) {
  return call_api(port, key, method, path, body.dump());
}

/// How many members of `pool` are ready, or -1 when hearthd gave no status
/// (a probe polls through that rather than failing on a missing field).
inline long ready_members(std::uint16_t port, const std::string& key,
                          const std::string& pool) {
  auto status = call_api(port, key, "GET", "/v1/template-warm-pools/" + pool + "/status");
  if (status.status != 200 || !status.json.is_object() || !status.json.contains("ready"))
    return -1;
  return status.json["ready"].get<long>();
}

/// Follows `pool` from change to change (long polls: `wait_ms` with the
/// last answer's `after_revision`) until `done(pool)` holds, or `deadline`
/// passes; false also when hearthd answers anything but the pool.
template <class Done>
bool pool_reaches(std::uint16_t port, const std::string& key, const std::string& pool,
                  Done done,
                  std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  using std::chrono::steady_clock;
  const auto until = steady_clock::now() + deadline;
  auto reply = call_api(port, key, "GET", "/v1/template-warm-pools/" + pool);
  for (;;) {
    if (reply.status != 200 || !reply.json.contains("revision"))
      return false;
    if (done(reply.json))
      return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - steady_clock::now());
    if (left.count() <= 0)
      return false;
    const auto wait = std::min<long long>(left.count(), 10'000);
    reply = call_api(port, key, "GET",
                     "/v1/template-warm-pools/" + pool +
                         "?wait_ms=" + std::to_string(wait) + "&after_revision=" +
                         std::to_string(reply.json["revision"].get<std::uint64_t>()));
  }
}

/// `pool_reaches` exactly `count` ready members.
inline bool
ready_count_reaches(std::uint16_t port, const std::string& key, const std::string& pool,
                    long count,
                    std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  return pool_reaches(
      port, key, pool,
      [count](const nlohmann::json& p) {
        return p["status"]["ready"].get<long>() == count;
      },
      deadline);
}

/// The status a build ends in (`ready`, `failed`), waiting for it through
/// long polls; `building` if `deadline` passes first, empty when hearthd
/// answers anything but the build.
inline std::string
build_outcome(std::uint16_t port, const std::string& key, const std::string& name,
              const std::string& build_id,
              std::chrono::milliseconds deadline = std::chrono::seconds(120)) {
  using std::chrono::steady_clock;
  const auto until = steady_clock::now() + deadline;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - steady_clock::now());
    const auto wait = std::max<long long>(0, std::min<long long>(left.count(), 10'000));
    auto reply = call_api(port, key, "GET",
                          "/v1/templates/" + name + "/builds/" + build_id +
                              "?wait_ms=" + std::to_string(wait));
    if (reply.status != 200 || !reply.json.contains("status"))
      return "";
    const std::string status = reply.json["status"];
    if (status != "building" || wait == 0)
      return status;
  }
}

/// The last `lines` lines of `text`, for a failure's message.
inline std::string tail(const std::string& text, std::size_t lines = 40) {
  std::size_t at = text.size();
  for (std::size_t seen = 0; at > 0 && seen <= lines; --at)
    if (text[at - 1] == '\n')
      ++seen;
  return text.substr(at == 0 ? 0 : at + 1);
}

/// Polls `probe` until it is true or `deadline` passes.
template <class Probe>
bool eventually(Probe probe,
                std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (probe())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return probe();
}

} // namespace hearth::testing
