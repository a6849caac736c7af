// How hearth waits for and stops QEMU processes, on plain `sleep`
// processes: an exit wakes the wait, a process that ignores SIGTERM is
// killed after its grace, a child is reaped.

#include <chrono>
#include <csignal>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.hpp"

using namespace hearth::vmm::detail;
using namespace std::chrono_literals;

namespace {

process start(const std::string& script) {
  auto p = spawn({"sh", "-c", script}, "/dev/null");
  REQUIRE(p.has_value());
  REQUIRE(p->pid > 0);
  return *p;
}

/// Whether `pid` is gone entirely: not even a zombie left to reap.
bool reaped(pid_t pid) {
  return waitpid(pid, nullptr, WNOHANG) < 0 && errno == ECHILD;
}

} // namespace

TEST_CASE("wait_exit answers false while the process runs, and true once it exited, "
          "having reaped it") {
  auto p = start("exec sleep 30");
  const pid_t pid = p.pid;
  CHECK_FALSE(wait_exit(p, 0ms));
  CHECK_FALSE(wait_exit(p, 50ms));
  CHECK(alive(p));
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK(wait_exit(p, 10s));
  CHECK_FALSE(alive(p));
  CHECK(reaped(pid));
  CHECK(wait_exit(p, 0ms)); // and again, once gone
}

TEST_CASE("wait_exit follows a process it did not start (re-adopted after a restart) by "
          "its start time") {
  // This test's parent: running, and not our child.
  process parent;
  parent.pid = getppid();
  parent.start_ticks = start_ticks_of(parent.pid);
  parent.child = false;
  REQUIRE(parent.start_ticks != 0);
  CHECK(alive(parent));
  CHECK_FALSE(wait_exit(parent, 20ms));
  // A record of an earlier process under the same pid is not this one.
  process stale = parent;
  stale.start_ticks = parent.start_ticks - 1;
  CHECK_FALSE(alive(stale));
  CHECK(wait_exit(stale, 0ms));
}

TEST_CASE("terminate kills a process that ignores SIGTERM once its grace has passed") {
  // The shell says it ignores SIGTERM through a FIFO; the ignored
  // disposition survives the exec, so `sleep` ignores it too.
  char dir[] = "/tmp/hearth-process-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string fifo = std::string(dir) + "/ready";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  auto p = start("trap '' TERM; echo ready > " + fifo + "; exec sleep 30");
  const pid_t pid = p.pid;
  {
    std::ifstream ready(fifo); // blocks until the shell opens it
    std::string line;
    REQUIRE(std::getline(ready, line));
    CHECK(line == "ready");
  }
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK_FALSE(wait_exit(p, 100ms)); // ignored
  terminate(p, 100ms);
  CHECK_FALSE(alive(p));
  CHECK(reaped(pid));
  std::filesystem::remove_all(dir);
}
