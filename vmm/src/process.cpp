#include "process.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "text_util.hpp"

extern char** environ;

namespace hearth::vmm::detail {

result<process> spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // Nothing else of ours: a VM outlives its controller, and an inherited
  // socket (hearthd's listener, a client's connection) would outlive it too.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  sigset_t default_signals;
  sigemptyset(&default_signals);
  sigaddset(&default_signals, SIGPIPE);
  sigaddset(&default_signals, SIGTERM);
  sigaddset(&default_signals, SIGINT);
  posix_spawnattr_setsigdefault(&attributes, &default_signals);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0)
    return error{errc::restore_failed,
                 "cannot start " + argv[0] + ": " + std::strerror(rc)};
  process p;
  p.pid = pid;
  p.start_ticks = start_ticks_of(pid);
  p.child = true;
  return p;
}

std::uint64_t start_ticks_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return 0;
  // The command name may hold spaces and parentheses: fields start after
  // the last ')'. State is field 3; start time is field 22.
  const auto close = line.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  char state = '?';
  fields >> state;
  if (state == 'Z' || state == 'X')
    return 0;
  for (int i = 4; i <= 22; ++i)
    if (!(fields >> field))
      return 0;
  return std::strtoull(field.c_str(), nullptr, 10);
}

bool alive(process& p) {
  if (p.pid <= 0)
    return false;
  // Reap it if it is our child (an adopted VM may be one too, when the
  // process that started it opened the host again).
  int status = 0;
  const pid_t reaped = waitpid(p.pid, &status, WNOHANG);
  if (reaped == p.pid) {
    p.pid = 0;
    return false;
  }
  if (reaped == 0)
    return true;
  const auto ticks = start_ticks_of(p.pid);
  return ticks != 0 && ticks == p.start_ticks;
}

int open_pidfd(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

bool wait_exit(process& p, std::chrono::milliseconds timeout) {
  if (!alive(p))
    return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int pidfd = open_pidfd(p.pid);
  // Still the same process after the open: then the descriptor is its.
  if (pidfd >= 0 && alive(p)) {
    pollfd exit{pidfd, POLLIN, 0};
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || poll(&exit, 1, static_cast<int>(left.count())) >= 0 ||
          errno != EINTR)
        break;
    }
  }
  if (pidfd >= 0)
    close(pidfd);
  else // a kernel without pidfds (before 5.3): look every 5 ms
    while (alive(p) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return !alive(p);
}

void terminate(process& p, std::chrono::milliseconds grace) {
  if (!alive(p))
    return;
  kill(p.pid, SIGTERM);
  if (wait_exit(p, grace))
    return;
  kill(p.pid, SIGKILL);
  wait_exit(p, std::chrono::seconds(5));
}

std::string argv_hash(const std::vector<std::string>& argv) {
  std::uint64_t h = fnv1a("");
  for (const auto& a : argv)
    h = fnv1a(std::string_view(a.c_str(), a.size() + 1),
              h); // with its NUL: "ab","c" != "a","bc"
  return hex16(h);
}

std::vector<std::string> argv_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> out;
  std::string arg;
  while (std::getline(in, arg, '\0'))
    out.push_back(arg);
  return out;
}

} // namespace hearth::vmm::detail
