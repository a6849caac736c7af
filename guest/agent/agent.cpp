// hearth-agent: the program hearth runs inside every guest. It listens on the
// virtio-serial port "hearth.agent" and, for the host, runs build steps and
// the start command, answers readiness checks from inside the guest, and
// after a restore resyncs the clock and reseeds the kernel's RNG.
//
// A static binary with no dependency beyond libc; one request at a time (the
// host holds the only connection). With `--init` it is PID 1's helper: the
// process forks, the parent reaps orphans forever, the child serves.

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <linux/random.h>
#include <map>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sstream>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <time.h>
#include <unistd.h>

#include "hearth/guest/protocol.hpp"

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

/// Where the start command's output goes ($HEARTH_AGENT_START_LOG overrides,
/// for tests that run the agent on the host).
const char* start_log_path() {
  static const char* path = [] {
    const char* env = std::getenv("HEARTH_AGENT_START_LOG");
    return env != nullptr ? env : "/var/log/hearth-start.log";
  }();
  return path;
}
constexpr std::size_t output_tail_bytes = 64 * 1024;
constexpr const char* default_path =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

void log_line(const std::string& text) {
  std::fprintf(stderr, "hearth-agent: %s\n", text.c_str());
}

std::string tail(const std::string& s, std::size_t n) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

std::string read_file_tail(const char* path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return tail(ss.str(), n);
}

/// Child-side set-up shared by exec and start: own session, env, workdir.
[[noreturn]] void exec_shell(const std::string& cmd, const json& env,
                             const std::string& cwd) {
  setsid();
  setenv("PATH", default_path, 1);
  setenv("HOME", "/root", 1);
  if (env.is_object())
    for (auto it = env.begin(); it != env.end(); ++it)
      if (it.value().is_string())
        setenv(it.key().c_str(), it.value().get<std::string>().c_str(), 1);
  if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
    std::fprintf(stderr, "cannot enter workdir %s: %s\n", cwd.c_str(),
                 std::strerror(errno));
    _exit(126);
  }
  execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
  std::fprintf(stderr, "cannot run /bin/sh: %s\n", std::strerror(errno));
  _exit(127);
}

struct run_result {
  int exit_code = -1;
  bool timed_out = false;
  std::string output;
};

run_result run_shell(const std::string& cmd, const json& env, const std::string& cwd,
                     std::uint32_t timeout_ms) {
  run_result result;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.output = std::string("pipe failed: ") + std::strerror(errno);
    return result;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(pipe_fds[1], 1);
    dup2(pipe_fds[1], 2);
    exec_shell(cmd, env, cwd);
  }
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    result.output = std::string("fork failed: ") + std::strerror(errno);
    return result;
  }
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  char chunk[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - clock_type::now())
                          .count();
    if (left <= 0) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      continue;
    const ssize_t got = read(pipe_fds[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    result.output.append(chunk, static_cast<std::size_t>(got));
    if (result.output.size() > 2 * output_tail_bytes)
      result.output = tail(result.output, output_tail_bytes);
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status))
    result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    result.exit_code = 128 + WTERMSIG(status);
  result.output = tail(result.output, output_tail_bytes);
  return result;
}

bool make_parents(const std::string& path) {
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      return false;
  }
  return true;
}

/// Connects to 127.0.0.1:port within `timeout_ms`; -1 on failure.
int connect_local(std::uint32_t port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (poll(&p, 1, timeout_ms) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      close(fd);
      return -1;
    }
  }
  return fd;
}

/// Whether a TCP socket listens on `port` (any address), from the kernel's
/// socket tables: much cheaper than a loopback handshake right after a
/// restore, when every kernel path runs for the first time under TCG.
bool listening(std::uint32_t port) {
  // Plain read() and sscanf: right after a restore every code path costs its
  // translation again, and iostreams are a lot of code.
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    const int fd = open(table, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    std::string text;
    char chunk[4096];
    for (ssize_t n; (n = read(fd, chunk, sizeof chunk)) > 0;)
      text.append(chunk, static_cast<std::size_t>(n));
    close(fd);
    // "  sl  local_address rem_address   st ...", addresses as HEX:PORT.
    for (auto eol = text.find('\n'); eol != std::string::npos && eol + 1 < text.size();
         eol = text.find('\n', eol + 1)) {
      unsigned local_port = 0;
      unsigned state = 0;
      if (std::sscanf(text.c_str() + eol + 1,
                      "%*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &local_port,
                      &state) == 2 &&
          local_port == port && state == 0x0A)
        return true;
    }
  }
  return false;
}

/// An HTTP status code from GET `path` on the guest's own port; 0 if none.
int http_status(std::uint32_t port, const std::string& path, int timeout_ms) {
  const int fd = connect_local(port, timeout_ms);
  if (fd < 0)
    return 0;
  const std::string request = "GET " + (path.empty() ? std::string("/") : path) +
                              " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return 0;
  }
  std::string head;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  while (head.find("\r\n") == std::string::npos && head.size() < 256) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - clock_type::now())
                          .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1)
      break;
    char chunk[256];
    const ssize_t got = recv(fd, chunk, sizeof chunk, 0);
    if (got <= 0)
      break;
    head.append(chunk, static_cast<std::size_t>(got));
  }
  close(fd);
  int code = 0;
  if (std::sscanf(head.c_str(), "HTTP/%*d.%*d %d", &code) != 1)
    return 0;
  return code;
}

class agent {
public:
  json handle(const json& request) {
    const std::string op = request.value("op", "");
    if (op == "ping")
      return {
          {"ok", true}, {"version", hearth::guest::protocol_version}, {"pid", getpid()}};
    if (op == "exec")
      return exec(request);
    if (op == "write_file")
      return write_file(request);
    if (op == "start")
      return start(request);
    if (op == "ready")
      return ready(request);
    if (op == "fixup")
      return fixup(request);
    if (op == "restored") {
      // After a restore: fix-ups, then readiness, in one round trip.
      const auto t0 = clock_type::now();
      json fixed = fixup(request);
      if (!fixed.value("ok", false))
        return fixed;
      const auto t1 = clock_type::now();
      json out = ready(request.value("ready", json::object()));
      out["fixup_us"] =
          std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count();
      out["ready_us"] =
          std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t1)
              .count();
      out["clock_set"] = fixed.value("clock_set", false);
      out["reseeded"] = fixed.value("reseeded", false);
      return out;
    }
    return failure("unknown op '" + op + "'");
  }

private:
  static json failure(std::string message) {
    return {{"ok", false}, {"error", std::move(message)}};
  }

  json exec(const json& request) {
    const auto r =
        run_shell(request.value("cmd", ""), request.value("env", json::object()),
                  request.value("cwd", ""), request.value("timeout_ms", 600'000u));
    return {{"ok", true},
            {"exit_code", r.exit_code},
            {"timed_out", r.timed_out},
            {"output", r.output}};
  }

  json write_file(const json& request) {
    const std::string path = request.value("path", "");
    if (path.empty() || path[0] != '/')
      return failure("path must be absolute");
    std::string content;
    if (!hearth::guest::base64_decode(request.value("content_b64", ""), content))
      return failure("content_b64 is not base64");
    if (!make_parents(path))
      return failure("cannot create the parent directories of " + path);
    const std::string temp = path + ".hearth-tmp";
    const auto mode = static_cast<mode_t>(request.value("mode", 0644u));
    const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
      return failure("cannot write " + path + ": " + std::strerror(errno));
    const bool written = ::write(fd, content.data(), content.size()) ==
                         static_cast<ssize_t>(content.size());
    fchmod(fd, mode);
    close(fd);
    if (!written || rename(temp.c_str(), path.c_str()) != 0)
      return failure("cannot write " + path);
    return {{"ok", true}, {"bytes", content.size()}};
  }

  json start(const json& request) {
    make_parents(start_log_path());
    const pid_t pid = fork();
    if (pid == 0) {
      int null_fd = open("/dev/null", O_RDONLY);
      int log_fd = open(start_log_path(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(null_fd, 0);
      dup2(log_fd, 1);
      dup2(log_fd, 2);
      exec_shell(request.value("cmd", ""), request.value("env", json::object()),
                 request.value("cwd", ""));
    }
    if (pid < 0)
      return failure(std::string("fork failed: ") + std::strerror(errno));
    start_pid_ = pid;
    start_exit_ = -1;
    return {{"ok", true}, {"pid", pid}};
  }

  /// Whether the start command still runs; records its exit code if not.
  bool start_running() {
    if (start_pid_ <= 0)
      return start_exit_ < 0;
    int status = 0;
    if (waitpid(start_pid_, &status, WNOHANG) == start_pid_) {
      start_exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      start_pid_ = 0;
      return false;
    }
    return true;
  }

  json ready(const json& request) {
    const std::string kind = request.value("kind", "");
    const auto port = request.value("port", 0u);
    const std::string path = request.value("path", "/");
    const std::string command = request.value("command", "");
    const auto timeout_ms = request.value("timeout_ms", 30'000u);
    const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    int attempts = 0;
    for (;;) {
      ++attempts;
      if (start_pid_ > 0 || start_exit_ >= 0) {
        if (!start_running())
          return {
              {"ok", false},
              {"error", "start command exited with code " + std::to_string(start_exit_)},
              {"exit_code", start_exit_},
              {"output", read_file_tail(start_log_path(), 4096)}};
      }
      bool passed = false;
      if (kind.empty()) {
        passed = true;
      } else if (kind == "wait_for_port") {
        passed = listening(port);
      } else if (kind == "wait_for_http") {
        const int code = http_status(port, path, 1000);
        passed = code >= 200 && code < 400;
      } else if (kind == "wait_for_cmd") {
        passed = run_shell(command, json::object(), "", 5000).exit_code == 0;
      } else {
        return failure("unknown readiness check '" + kind + "'");
      }
      if (passed)
        return {{"ok", true}, {"attempts", attempts}};
      if (clock_type::now() >= deadline)
        return {
            {"ok", false},
            {"error", "readiness timed out after " + std::to_string(timeout_ms) + " ms"},
            {"timed_out", true},
            {"output", read_file_tail(start_log_path(), 4096)}};
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  /// Points each allowed destination's name at its relay address: lines we
  /// wrote before (marked) are replaced, the rest of /etc/hosts is kept.
  static bool write_hosts(const json& hosts) {
    std::ifstream in("/etc/hosts");
    std::string kept, line;
    while (std::getline(in, line))
      if (line.find("# hearth") == std::string::npos)
        kept += line + "\n";
    if (kept.find("localhost") == std::string::npos)
      kept = "127.0.0.1 localhost\n" + kept;
    for (auto it = hosts.begin(); it != hosts.end(); ++it)
      kept += it.value().get<std::string>() + " " + it.key() + " # hearth\n";
    std::ofstream out("/etc/hosts.hearth-tmp", std::ios::trunc);
    out << kept;
    out.close();
    return out && rename("/etc/hosts.hearth-tmp", "/etc/hosts") == 0;
  }

  json fixup(const json& request) {
    json out = {{"ok", true}};
    if (request.contains("hosts") && request["hosts"].is_object()) {
      if (!write_hosts(request["hosts"]))
        return failure("cannot write /etc/hosts");
    }
    const auto time_ns = request.value("time_ns", std::int64_t{0});
    if (time_ns > 0) {
      timespec ts{static_cast<time_t>(time_ns / 1'000'000'000),
                  static_cast<long>(time_ns % 1'000'000'000)};
      out["clock_set"] = clock_settime(CLOCK_REALTIME, &ts) == 0;
    }
    std::string seed;
    if (hearth::guest::base64_decode(request.value("seed_b64", ""), seed) &&
        !seed.empty()) {
      // Credit the host's randomness and force the CRNG to reseed from it:
      // clones restored from one snapshot would otherwise share its state.
      const int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
      bool reseeded = false;
      if (fd >= 0) {
        std::string buffer(sizeof(rand_pool_info) + seed.size(), '\0');
        auto* info = reinterpret_cast<rand_pool_info*>(buffer.data());
        info->entropy_count = static_cast<int>(seed.size() * 8);
        info->buf_size = static_cast<int>(seed.size());
        std::memcpy(info->buf, seed.data(), seed.size());
        reseeded = ioctl(fd, RNDADDENTROPY, info) == 0;
        ioctl(fd, RNDRESEEDCRNG);
        close(fd);
      }
      out["reseeded"] = reseeded;
    }
    return out;
  }

  pid_t start_pid_ = 0;
  int start_exit_ = -1;
};

std::string find_port_device() {
  for (int attempt = 0; attempt < 500; ++attempt) {
    if (DIR* dir = opendir("/sys/class/virtio-ports")) {
      while (dirent* entry = readdir(dir)) {
        if (entry->d_name[0] == '.')
          continue;
        const std::string name_file =
            std::string("/sys/class/virtio-ports/") + entry->d_name + "/name";
        std::ifstream in(name_file);
        std::string name;
        std::getline(in, name);
        if (name == hearth::guest::port_name) {
          closedir(dir);
          return std::string("/dev/") + entry->d_name;
        }
      }
      closedir(dir);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  int stalls = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    // The host is not connected (yet): retry for a while, then drop.
    if (++stalls > 100)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

/// Serves requests on `fd` (read and written). `stream`: a socket whose end
/// means the host is done; a virtio port instead reads as closed while no
/// host is connected, and one may come later.
int serve(int fd, bool stream) {
  signal(SIGPIPE, SIG_IGN);
  agent handler;
  std::string buffer;
  char chunk[65536];
  for (;;) {
    const ssize_t got = read(fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      if (stream)
        return 0;
      // No host on the other end: the port reads as closed until one comes.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    buffer.append(chunk, static_cast<std::size_t>(got));
    for (;;) {
      hearth::guest::frame request;
      const auto status = hearth::guest::take_frame(buffer, request);
      if (status == hearth::guest::parse_status::need_more)
        break;
      if (status != hearth::guest::parse_status::ok) {
        buffer.clear();
        const json reply = {
            {"ok", false},
            {"error", std::string("bad frame: ") + hearth::guest::to_string(status)}};
        write_all(fd, hearth::guest::encode_frame(hearth::guest::frame_kind::response, 0,
                                                  reply.dump()));
        break;
      }
      json reply;
      const json parsed = json::parse(request.payload, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        reply = {{"ok", false}, {"error", "bad request: payload is not a JSON object"}};
      } else {
        try {
          reply = handler.handle(parsed);
        } catch (const std::exception& e) {
          reply = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
        }
      }
      write_all(fd, hearth::guest::encode_frame(
                        hearth::guest::frame_kind::response, request.id,
                        reply.dump(-1, ' ', false, json::error_handler_t::replace)));
    }
  }
}

int serve_port() {
  const std::string device = find_port_device();
  if (device.empty()) {
    log_line("no virtio-serial port named hearth.agent");
    return 1;
  }
  const int fd = open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    log_line("cannot open " + device + ": " + std::strerror(errno));
    return 1;
  }
  log_line("serving on " + device);
  return serve(fd, false);
}

} // namespace

// hearth-agent            serve on the virtio-serial port "hearth.agent"
// hearth-agent --init     the same, as PID 1's helper (reaps orphans)
// hearth-agent --stdio    serve on standard input (a socket), for tests
int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--stdio")
    return serve(0, true);
  if (argc > 1 && std::string(argv[1]) == "--init") {
    // PID 1: reap every orphan, forever, and bring the agent back if it dies.
    pid_t child = fork();
    if (child == 0)
      return serve_port();
    for (;;) {
      const pid_t gone = wait(nullptr);
      if (gone == child) {
        log_line("the agent exited; starting it again");
        std::this_thread::sleep_for(std::chrono::seconds(1));
        child = fork();
        if (child == 0)
          return serve_port();
      } else if (gone < 0 && errno == ECHILD) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  }
  return serve_port();
}
