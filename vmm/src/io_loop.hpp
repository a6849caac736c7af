#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth::vmm::detail {

/// One thread that waits on many file descriptors with poll() and runs a
/// callback when one is readable, plus a periodic tick. The QMP and agent
/// connections of every VM of a host share it, so no actor thread ever waits
/// on a socket and a host does not need a thread per VM.
class io_loop {
public:
  explicit io_loop(std::chrono::milliseconds tick_interval,
                   std::function<void()> on_tick);
  ~io_loop();
  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  /// Calls `on_readable` on the loop's thread whenever `fd` is readable (or
  /// hung up). Thread-safe.
  void watch(int fd, std::function<void()> on_readable);
  /// Stops watching `fd`. Once it returns, the callback is not running and
  /// will not run again (unless called from that callback itself).
  void unwatch(int fd);
  /// Runs the tick soon (a connection closed: look at the processes now).
  void poke();

private:
  void run();
  void wake();

  std::chrono::milliseconds tick_interval_;
  std::function<void()> on_tick_;
  std::recursive_mutex dispatch_mutex_;
  std::mutex mutex_;
  std::map<int, std::function<void()>> watched_;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> poked_{false};
  std::thread thread_;
};

} // namespace hearth::vmm::detail
