#pragma once

#include <chrono>
#include <cstddef>
#include <fcntl.h>
#include <functional>
#include <poll.h>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace hearth::testing {

/// A program the tests start, kill and then examine what it left behind.
/// Such a child is a fresh process, not a forked copy of the test: a copy of
/// a process that runs threads (RocksDB's, CAF's, the test main's) inherits
/// whatever lock one of them held at the fork and may wait on it forever.
struct reporting_child {
  pid_t pid = -1;
  int fd = -1; // what it reports: the read end of a pipe
};

/// Starts `argv[0]` with `argv` and, last, the number of the file descriptor
/// it is to report on, one line at a time.
inline reporting_child start_reporting_child(std::vector<std::string> argv) {
  int ends[2];
  if (::pipe(ends) != 0)
    return {};
  ::fcntl(ends[0], F_SETFD, FD_CLOEXEC);
  argv.push_back(std::to_string(ends[1]));
  std::vector<char*> args;
  for (auto& arg : argv)
    args.push_back(arg.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(ends[1]);
  if (pid < 0) {
    ::close(ends[0]);
    return {};
  }
  return {pid, ends[0]};
}

/// What a child reported on its pipe before it ended.
struct child_reports {
  std::size_t lines = 0;
  /// It went quiet before `kill_after` lines and was killed for it.
  bool stuck = false;
  /// Its wait status.
  int status = 0;
};

/// Reads the lines `child` reports, handing each to `on_line`, until it has
/// ended. Kills it with SIGKILL once `kill_after` lines came, keeping on
/// reading what it wrote before it died, or once it wrote nothing for
/// `quiet_limit`, so a stuck child fails its test instead of hanging it.
/// Reaps the child and closes its pipe.
inline child_reports
read_until_killed(const reporting_child& child, std::size_t kill_after,
                  std::chrono::milliseconds quiet_limit,
                  const std::function<void(const std::string&)>& on_line) {
  child_reports reports;
  const int fd = child.fd;
  std::string pending;
  char buffer[4096];
  bool killed = false;
  auto last_heard = std::chrono::steady_clock::now();
  for (;;) {
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, 100) == 0) {
      if (!killed && std::chrono::steady_clock::now() - last_heard > quiet_limit) {
        ::kill(child.pid, SIGKILL);
        killed = true;
        reports.stuck = true;
      }
      continue;
    }
    const ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got <= 0)
      break;
    last_heard = std::chrono::steady_clock::now();
    pending.append(buffer, static_cast<std::size_t>(got));
    std::size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      on_line(pending.substr(0, newline));
      pending.erase(0, newline + 1);
      ++reports.lines;
    }
    if (!killed && reports.lines >= kill_after) {
      ::kill(child.pid, SIGKILL);
      killed = true;
    }
  }
  ::waitpid(child.pid, &reports.status, 0);
  ::close(fd);
  return reports;
}

} // namespace hearth::testing
