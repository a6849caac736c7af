#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "hearth/vmm/driver.hpp"
#include "io_loop.hpp"

namespace hearth::vmm::detail {

/// A value that one thread sets and another waits for, with a deadline.
template <class T>
class slot {
public:
  void set(T value) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (value_)
        return;
      value_.emplace(std::move(value));
    }
    done_.notify_all();
  }

  std::optional<T> wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait_for(lock, timeout, [&] { return value_.has_value(); });
    return value_;
  }

private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::optional<T> value_;
};

/// A connection to a unix socket that QEMU serves (QMP, or the agent's
/// virtio-serial chardev). The io_loop reads it and hands the bytes to
/// `on_bytes`; writers call `send` from any thread.
class channel {
public:
  virtual ~channel();

  /// Whether the other side closed (the VM exited) or the read failed.
  bool closed() const;
  /// Called once when the connection closes, on the io_loop's thread.
  void on_close(std::function<void()> handler);

protected:
  /// Connects to `path`, retrying while QEMU has not created it yet.
  static result<int> connect_unix(const std::string& path,
                                  std::chrono::milliseconds timeout);

  channel(io_loop& loop, int fd);
  /// Starts reading; call once the subclass is ready for bytes.
  void start();
  result<bool> send(const std::string& data);
  /// Stops reading and closes; pending waits fail.
  void shutdown();

  /// The bytes read so far and not consumed; called on the io_loop thread.
  virtual void on_bytes(std::string& buffer) = 0;
  /// The connection closed: fail whatever waits.
  virtual void on_closed() = 0;

  std::mutex mutex_; // guards subclass state shared with writers

private:
  void readable();

  io_loop& loop_;
  int fd_;
  std::atomic<bool> watching_{false};
  std::string buffer_;
  std::mutex send_mutex_;
  mutable std::mutex close_mutex_;
  bool closed_ = false;
  std::function<void()> close_handler_;
};

} // namespace hearth::vmm::detail
