#include "io_loop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace hearth::vmm::detail {

io_loop::io_loop(std::chrono::milliseconds tick_interval, std::function<void()> on_tick)
    : tick_interval_(tick_interval)
    , on_tick_(std::move(on_tick)) {
  if (pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0)
    wake_pipe_[0] = wake_pipe_[1] = -1;
  thread_ = std::thread([this] { run(); });
}

io_loop::~io_loop() {
  stopping_ = true;
  wake();
  thread_.join();
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
}

void io_loop::watch(int fd, std::function<void()> on_readable) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    watched_[fd] = std::move(on_readable);
  }
  wake();
}

void io_loop::unwatch(int fd) {
  std::lock_guard<std::recursive_mutex> dispatching(dispatch_mutex_);
  std::lock_guard<std::mutex> lock(mutex_);
  watched_.erase(fd);
}

void io_loop::poke() {
  poked_ = true;
  wake();
}

void io_loop::wake() {
  const char byte = 1;
  [[maybe_unused]] auto n = write(wake_pipe_[1], &byte, 1);
}

void io_loop::run() {
  auto next_tick = std::chrono::steady_clock::now() + tick_interval_;
  std::vector<pollfd> fds;
  while (!stopping_) {
    fds.clear();
    fds.push_back(pollfd{wake_pipe_[0], POLLIN, 0});
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [fd, callback] : watched_)
        fds.push_back(pollfd{fd, POLLIN, 0});
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        next_tick - std::chrono::steady_clock::now());
    const int ready =
        poll(fds.data(), fds.size(), std::max<int>(0, static_cast<int>(wait.count())));
    if (stopping_)
      break;
    if (ready > 0) {
      if (fds[0].revents != 0) {
        char drain[64];
        while (read(wake_pipe_[0], drain, sizeof drain) > 0) {
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0)
          continue;
        std::lock_guard<std::recursive_mutex> dispatching(dispatch_mutex_);
        std::function<void()> callback;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          auto found = watched_.find(fds[i].fd);
          if (found == watched_.end())
            continue;
          callback = found->second;
        }
        callback();
      }
    }
    if (poked_.exchange(false) || std::chrono::steady_clock::now() >= next_tick) {
      next_tick = std::chrono::steady_clock::now() + tick_interval_;
      std::lock_guard<std::recursive_mutex> dispatching(dispatch_mutex_);
      on_tick_();
    }
  }
}

} // namespace hearth::vmm::detail
