#pragma once

// hearthd as an operator runs it, for tests: a child process on a loopback
// port, its log in a file, and a JSON client of its API.

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "support/http_client.hpp"
#include "support/subprocess.hpp"

namespace hearth::testing {

/// A hearthd child process; its output goes to `log`.
struct daemon_process {
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::string data_dir;
  std::string log_path;

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
    pid = fork();
    if (pid == 0) {
      const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  /// Waits until it serves, up to `deadline`; false if it exited or never did.
  bool wait_ready(std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return false;
      }
      if (http_request(port, "GET", "/healthz").status == 200)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
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
  }

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
