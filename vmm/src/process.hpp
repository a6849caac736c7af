#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

#include "hearth/vmm/driver.hpp"

namespace hearth::vmm::detail {

/// A QEMU process: enough to find it again after a restart of hearth and to
/// be sure it is still the same process (pids get reused).
struct process {
  pid_t pid = 0;
  /// Its start time in clock ticks since boot (/proc/<pid>/stat field 22).
  std::uint64_t start_ticks = 0;
  /// Whether this process was started here (else adopted after a restart).
  bool child = true;
};

/// Starts `argv` in its own session (so that a SIGKILL of hearth's process
/// group leaves VMs running, for re-adoption), stdout and stderr to `log`.
result<process> spawn(const std::vector<std::string>& argv, const std::string& log);

/// The start time of `pid`, or 0 when there is no such process.
std::uint64_t start_ticks_of(pid_t pid);

/// Whether `p` still runs (and is not a zombie). Reaps a child that exited.
bool alive(process& p);

/// Stops `p`: SIGTERM, then SIGKILL after `grace`. Reaps a child.
void terminate(process& p, std::chrono::milliseconds grace);

/// Waits up to `timeout` for `p` to exit on its own: woken by its exit
/// (a pidfd), not by looking again and again. Reaps a child.
bool wait_exit(process& p, std::chrono::milliseconds timeout);

/// A pidfd of `pid` (pidfd_open(2)), or -1 with errno set.
int open_pidfd(pid_t pid);

/// A stable hash of an argv (recorded, and compared on re-adoption).
std::string argv_hash(const std::vector<std::string>& argv);

/// The argv of a running process, from /proc/<pid>/cmdline.
std::vector<std::string> argv_of(pid_t pid);

} // namespace hearth::vmm::detail
